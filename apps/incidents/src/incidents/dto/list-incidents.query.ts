import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { SEVERITIES, STATUSES, type Severity, type Status } from '../incident-event.entity.js';

export class ListIncidentsQuery {
  @ApiPropertyOptional({ example: 'payments' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
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
  @Type(() => Number)
  @Max(100)
  @Min(1)
  @IsInt() // checked first (class-validator runs the lowest first): "abc" is "not an integer"
  limit: number = 20;

  @ApiPropertyOptional({ minimum: 0, default: 0 })
  @Type(() => Number)
  @Min(0)
  @IsInt()
  offset: number = 0;
}
