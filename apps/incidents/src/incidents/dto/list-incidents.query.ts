import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { SEVERITIES, STATUSES, type Severity, type Status } from '../incident-event.entity.js';
import { IsText, QueryInt } from './field-rules.js';

export class ListIncidentsQuery {
  @ApiPropertyOptional({ example: 'payments', maxLength: 64 })
  @IsOptional()
  @IsText(1, 64)
  namespace?: string;

  @ApiPropertyOptional({ enum: SEVERITIES })
  @IsOptional()
  @IsIn(SEVERITIES)
  severity?: Severity;

  @ApiPropertyOptional({ enum: STATUSES })
  @IsOptional()
  @IsIn(STATUSES)
  status?: Status;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @QueryInt(1, 100)
  limit: number = 20;

  @ApiPropertyOptional({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 })
  @QueryInt(0)
  offset: number = 0;
}
