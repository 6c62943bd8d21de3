import { Body, Controller, Get, HttpCode, NotFoundException, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiCreatedResponse, ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { CreateIncidentDto } from './dto/create-incident.dto.js';
import { IncidentIdParams } from './dto/incident-id.params.js';
import { ListIncidentsQuery } from './dto/list-incidents.query.js';
import { UpdateIncidentDto } from './dto/update-incident.dto.js';
import { IncidentsService } from './incidents.service.js';

@ApiTags('incidents')
@ApiBadRequestResponse({ description: 'Invalid input; the message names the field' })
@Controller('incidents')
export class IncidentsController {
  constructor(private readonly incidents: IncidentsService) {}

  @Get()
  @ApiOkResponse({ description: '`{ items, total }`, newest first' })
  list(@Query() query: ListIncidentsQuery) {
    return this.incidents.list(query);
  }

  // Declared before ':id' so that "stats" is not taken for an id.
  @Get('stats')
  @ApiOkResponse({ description: 'Counts by severity and by status' })
  stats() {
    return this.incidents.stats();
  }

  @Get(':id')
  @ApiNotFoundResponse()
  async get(@Param() { id }: IncidentIdParams) {
    const incident = await this.incidents.get(id);
    if (!incident) throw new NotFoundException(`Incident ${id} not found`);
    return incident;
  }

  @Post()
  @HttpCode(201)
  @ApiCreatedResponse()
  create(@Body() dto: CreateIncidentDto) {
    return this.incidents.create(dto);
  }

  @Patch(':id')
  @ApiNotFoundResponse()
  async update(@Param() { id }: IncidentIdParams, @Body() dto: UpdateIncidentDto) {
    // The service resolves with the old value too (for its eviction tags); the answer is the new one.
    return (await this.incidents.update(id, dto)).after;
  }
}
