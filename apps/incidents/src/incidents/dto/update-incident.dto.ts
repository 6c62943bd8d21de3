import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { SEVERITIES, STATUSES, type Severity, type Status } from '../incident-event.entity.js';
import { IsText, UnlessAbsent } from './field-rules.js';

// Only `undefined` (absent) is optional: `null` for a NOT NULL column is a 400, not a failed UPDATE.
export class UpdateIncidentDto {
  @ApiPropertyOptional({ enum: STATUSES, description: '`resolved` sets resolvedAt; `open` clears it' })
  @UnlessAbsent()
  @IsIn(STATUSES)
  status?: Status;

  @ApiPropertyOptional({ enum: SEVERITIES })
  @UnlessAbsent()
  @IsIn(SEVERITIES)
  severity?: Severity;

  @ApiPropertyOptional({ maxLength: 200 })
  @UnlessAbsent()
  @IsText(1, 200)
  title?: string;

  @ApiPropertyOptional({ nullable: true, maxLength: 10_000, description: '`null` clears it' })
  @IsOptional() // absent or null: the column is nullable
  @IsText(0, 10_000)
  description?: string | null;
}
