import { Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository, SelectQueryBuilder } from 'typeorm';
import { CacheEvict, Cached, SingleFlight } from '@app/single-flight';
import { DASHBOARD_FRESHNESS } from './cache-ttls.js';
import { createdTags, incidentTag, listTag, STATS_TAG, updatedTags } from './incident-tags.js';
import type { CreateIncidentDto } from './dto/create-incident.dto.js';
import type { ListIncidentsQuery } from './dto/list-incidents.query.js';
import type { UpdateIncidentDto } from './dto/update-incident.dto.js';
import { IncidentEvent, SEVERITIES, STATUSES, type Severity, type Status } from './incident-event.entity.js';

export interface Page<T> {
  items: T[];
  total: number;
}

/** An update: the incident as it was (read under the row lock) and as it is now. */
export interface IncidentChange {
  before: IncidentEvent;
  after: IncidentEvent;
}

export interface IncidentStats {
  total: number;
  bySeverity: Record<Severity, number>;
  byStatus: Record<Status, number>;
}

/**
 * Every read is cached and coalesced by the decorators; every write evicts by tags, only those of
 * what it can change (incident-tags.ts): a write in one namespace leaves the others' lists cached.
 * No cache code here. Lists and stats may be served stale for a while past their ttl, never after
 * a write evicted them (cache-ttls.ts). With Redis, list and stats are fleet-wide flights and every
 * instance keeps hot reads in its local tier (cache/single-flight-options.ts).
 */
@Injectable()
export class IncidentsService {
  constructor(@InjectRepository(IncidentEvent) private readonly repo: Repository<IncidentEvent>) {}

  // Tagged with its filters: every page of one filter combination shares the tag.
  @Cached({ tags: (query: ListIncidentsQuery) => [listTag(query)], ...DASHBOARD_FRESHNESS })
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

  // Fleet-wide like every read (the module default with Redis): a read right after a write is
  // asked of every instance at once, and the decision wants no concurrent identical query
  // anywhere, so each cold id costs one query for the fleet (the lease's two round trips
  // included). Never stale (no stale windows): one incident is read to act on it.
  @Cached({ tags: (id: string) => [incidentTag(id)] })
  @SingleFlight()
  get(id: string): Promise<IncidentEvent | null> {
    return this.repo.findOneBy({ id });
  }

  @Cached({ tags: [STATS_TAG], ...DASHBOARD_FRESHNESS })
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

  // The 8 lists the new incident appears in, and the stats: other namespaces' lists stay cached.
  @CacheEvict({ tags: (created: IncidentEvent) => createdTags(created) })
  async create(dto: CreateIncidentDto): Promise<IncidentEvent> {
    const { identifiers } = await this.repo.insert({ ...dto, description: dto.description ?? null, status: 'open' });
    return this.repo.findOneByOrFail({ id: identifiers[0].id as string });
  }

  /**
   * The eviction needs the values the update replaced: an incident moved from one filter to
   * another must leave the old filter's lists too. They are read under a row lock (SELECT ... FOR
   * UPDATE) in the transaction that writes, so a concurrent update of the same incident waits and
   * then reads this one's values as its own `before`: two updates cannot both take the same old
   * values and leave the lists of the one in between stale. The lock is bounded like any
   * statement (statement_timeout). Resolves with both values once the eviction is written; the
   * controller answers `after`.
   */
  @CacheEvict({ tags: ({ before, after }: IncidentChange) => updatedTags(before, after) })
  async update(id: string, dto: UpdateIncidentDto): Promise<IncidentChange> {
    return this.repo.manager.transaction(async (manager) => {
      const repo = manager.getRepository(IncidentEvent);
      const before = await repo.findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!before) throw new NotFoundException(`Incident ${id} not found`);
      const changes: Partial<IncidentEvent> = {};
      if (dto.status && dto.status !== before.status) changes.resolvedAt = dto.status === 'resolved' ? new Date() : null;
      // Only the fields sent: a DTO instance may carry the others as `undefined`.
      for (const [field, value] of Object.entries(dto)) if (value !== undefined) Object.assign(changes, { [field]: value });
      if (Object.keys(changes).length > 0) await repo.update({ id: before.id }, changes);
      return { before, after: Object.assign(new IncidentEvent(), before, changes) };
    });
  }

  // An empty filter selects everything, as in listTag (incident-tags.ts).
  private filtered({ namespace, severity, status }: ListIncidentsQuery): SelectQueryBuilder<IncidentEvent> {
    const qb = this.repo.createQueryBuilder('incident');
    if (namespace) qb.andWhere('incident.namespace = :namespace', { namespace });
    if (severity) qb.andWhere('incident.severity = :severity', { severity });
    if (status) qb.andWhere('incident.status = :status', { status });
    return qb;
  }
}
