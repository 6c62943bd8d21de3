import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { SEVERITIES, type Severity } from '../incident-event.entity.js';
import { IsText } from './field-rules.js';

export class CreateIncidentDto {
  @ApiProperty({ example: 'payments', maxLength: 64 })
  @IsText(1, 64)
  namespace: string;

  @ApiProperty({ enum: SEVERITIES })
  @IsIn(SEVERITIES)
  severity: Severity;

  @ApiProperty({ example: 'Checkout p99 above SLO', maxLength: 200 })
  @IsText(1, 200)
  title: string;

  @ApiPropertyOptional({ nullable: true, maxLength: 10_000 })
  @IsOptional() // absent or null: the column is nullable
  @IsText(0, 10_000)
  description?: string | null;
}
