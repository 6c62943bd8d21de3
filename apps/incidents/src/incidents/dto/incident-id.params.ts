import { ApiProperty } from '@nestjs/swagger';
import { IsLowercasedUuid } from './field-rules.js';

export class IncidentIdParams {
  @ApiProperty({ format: 'uuid' })
  @IsLowercasedUuid() // the id is the cache key and the tag: one spelling for each incident
  id: string;
}
