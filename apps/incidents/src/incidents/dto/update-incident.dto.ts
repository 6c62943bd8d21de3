import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length } from 'class-validator';
import { SEVERITIES, STATUSES, type Severity, type Status } from '../incident-event.entity.js';

export class UpdateIncidentDto {
  @ApiPropertyOptional({ enum: STATUSES, description: '`resolved` sets resolvedAt; `open` clears it' })
  @IsOptional()
  @IsIn(STATUSES)
  status?: Status;

  @ApiPropertyOptional({ enum: SEVERITIES })
  @IsOptional()
  @IsIn(SEVERITIES)
  severity?: Severity;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(1, 200)
  title?: string;

  @ApiPropertyOptional({ nullable: true })
  @IsOptional()
  @IsString()
  @Length(0, 10_000)
  description?: string | null;
}
