import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length } from 'class-validator';
import { SEVERITIES, type Severity } from '../incident-event.entity.js';

export class CreateIncidentDto {
  @ApiProperty({ example: 'payments' })
  @IsString()
  @Length(1, 64)
  namespace: string;

  @ApiProperty({ enum: SEVERITIES })
  @IsIn(SEVERITIES)
  severity: Severity;

  @ApiProperty({ example: 'Checkout p99 above SLO' })
  @IsString()
  @Length(1, 200)
  title: string;

  @ApiPropertyOptional({ nullable: true })
  @IsOptional()
  @IsString()
  @Length(0, 10_000)
  description?: string | null;
}
