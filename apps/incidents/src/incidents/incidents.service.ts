import { Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository, SelectQueryBuilder } from 'typeorm';
import { CacheEvict, Cached, SingleFlight } from '@app/single-flight';
import { DASHBOARD_FRESHNESS } from './cache-ttls.js';
import type { CreateIncidentDto } from './dto/create-incident.dto.js';
import type { ListIncidentsQuery } from './dto/list-incidents.query.js';
import type { UpdateIncidentDto } from './dto/update-incident.dto.js';
import { IncidentEvent, SEVERITIES, STATUSES, type Severity, type Status } from './incident-event.entity.js';

export interface Page<T> {
  items: T[];
  total: number;
}

export interface IncidentStats {
  total: number;
  bySeverity: Record<Severity, number>;
  byStatus: Record<Status, number>;
}

/**
 * Every read is cached and coalesced by the decorators; every write evicts by tags. No cache code
 * here. Lists and stats may be served stale for a while past their ttl, never after a write
 * evicted them (cache-ttls.ts). With Redis, list and stats are fleet-wide flights and every instance keeps hot reads in
 * its local tier (cache/single-flight-options.ts).
 */
@Injectable()
export class IncidentsService {
  constructor(@InjectRepository(IncidentEvent) private readonly repo: Repository<IncidentEvent>) {}

  @Cached({ tags: ['incidents'], ...DASHBOARD_FRESHNESS })
  @SingleFlight()
  async list(query: ListIncidentsQuery): Promise<Page<IncidentEvent>> {
    // One statement: the page and, through a window function, the total of the filter.
    const { entities, raw } = await this.filtered(query)
      .addSelect('COUNT(*) OVER()', 'total')
      .orderBy('incident.createdAt', 'DESC')
      .addOrderBy('incident.id', 'DESC')
      .offset(query.offset)
      .limit(query.limit)
      .getRawAndEntities<{ total: string }>();
    // Past the last page there is no row to carry the total: only then is it counted apart.
    const total = raw.length > 0 ? Number(raw[0].total) : query.offset === 0 ? 0 : await this.filtered(query).getCount();
    return { items: entities, total };
  }

  // Not fleet-wide (the module default with Redis): a primary-key lookup costs less than the
  // lease's round trips would; each instance loads a cold id at most once.
  // Never stale (no stale windows): one incident is read to act on it.
  @Cached({ tags: (id: string) => [`incident:${id}`] })
  @SingleFlight({ distributed: false })
  get(id: string): Promise<IncidentEvent | null> {
    return this.repo.findOneBy({ id });
  }

  @Cached({ tags: ['incidents'], ...DASHBOARD_FRESHNESS })
  @SingleFlight()
  async stats(): Promise<IncidentStats> {
    const rows = await this.repo
      .createQueryBuilder('incident')
      .select('incident.severity', 'severity')
      .addSelect('incident.status', 'status')
      .addSelect('COUNT(*)', 'count')
      .groupBy('incident.severity')
      .addGroupBy('incident.status')
      .getRawMany<{ severity: Severity; status: Status; count: string }>();
    const stats: IncidentStats = {
      total: 0,
      bySeverity: Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>,
      byStatus: Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<Status, number>,
    };
    for (const row of rows) {
      const count = Number(row.count);
      stats.total += count;
      stats.bySeverity[row.severity] += count;
      stats.byStatus[row.status] += count;
    }
    return stats;
  }

  @CacheEvict({ tags: ['incidents'] })
  async create(dto: CreateIncidentDto): Promise<IncidentEvent> {
    const { identifiers } = await this.repo.insert({ ...dto, description: dto.description ?? null, status: 'open' });
    return this.repo.findOneByOrFail({ id: identifiers[0].id as string });
  }

  @CacheEvict({ tags: (_: IncidentEvent, id: string) => ['incidents', `incident:${id}`] })
  async update(id: string, dto: UpdateIncidentDto): Promise<IncidentEvent> {
    const incident = await this.repo.findOneBy({ id });
    if (!incident) throw new NotFoundException(`Incident ${id} not found`);
    if (dto.status && dto.status !== incident.status) incident.resolvedAt = dto.status === 'resolved' ? new Date() : null;
    // Only the fields sent: a DTO instance may carry the others as `undefined`.
    for (const [field, value] of Object.entries(dto)) if (value !== undefined) Object.assign(incident, { [field]: value });
    return this.repo.save(incident);
  }

  private filtered({ namespace, severity, status }: ListIncidentsQuery): SelectQueryBuilder<IncidentEvent> {
    const qb = this.repo.createQueryBuilder('incident');
    if (namespace) qb.andWhere('incident.namespace = :namespace', { namespace });
    if (severity) qb.andWhere('incident.severity = :severity', { severity });
    if (status) qb.andWhere('incident.status = :status', { status });
    return qb;
  }
}
