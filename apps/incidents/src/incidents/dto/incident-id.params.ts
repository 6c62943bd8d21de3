import { ApiProperty } from '@nestjs/swagger';
import { IsUUID } from 'class-validator';

export class IncidentIdParams {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  id: string;
}
