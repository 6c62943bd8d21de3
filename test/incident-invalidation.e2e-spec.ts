// Fine-grained invalidation in the sample app (apps/incidents/src/incidents/incident-tags.ts), on
// the real PostgreSQL and Redis: a write evicts only the lists (and stats) its old and new values
// touch, so the other lists stay cached; and no write ever leaves a read stale, checked against
// the database itself (uncached queries through the repository, not the service).
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import request from 'supertest';
import type { App } from 'supertest/types.js';
import { DataSource, type FindOptionsWhere } from 'typeorm';
import { IncidentEvent, SEVERITIES, STATUSES, type Severity, type Status } from '../apps/incidents/src/incidents/incident-event.entity.js';
import { createTestDatabase, dropCacheKeys, startApp, type E2eApp } from './support/e2e-app.js';
import { startMemoryApp } from './support/memory-app.js';
import { waitFor } from './support/wait-for.js';

/** Longer than the file: no entry goes past its ttl (a list may then be served stale by design, cache-ttls.ts). */
const CACHE_TTL_MS = 600_000;
const RUNS = Number(process.env.TAGS_RUNS ?? 50);
const SEED = process.env.TAGS_SEED === undefined ? undefined : Number(process.env.TAGS_SEED);

interface Filter {
  namespace?: string;
  severity?: Severity;
  status?: Status;
}
interface ListRead extends Filter {
  limit?: number;
  offset?: number;
}

const http = (instance: E2eApp) => request(instance.app.getHttpServer() as App);
const plain = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
const uid = () => randomUUID().slice(0, 8);

const listPath = ({ limit, offset, ...filter }: ListRead): string => {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries({ ...filter, limit, offset })) if (value !== undefined) params.set(name, String(value));
  const query = params.toString();
  return query ? `/incidents?${query}` : '/incidents';
};

/** A GET and the SQL statements it cost the instance. */
async function read(instance: E2eApp, path: string): Promise<{ body: any; statements: number }> {
  const before = instance.sql.count;
  const { body } = await http(instance).get(path).expect(200);
  return { body, statements: instance.sql.count - before };
}

// ---- the truth: straight from the database, no cache, not through the service ----

const repo = (instance: E2eApp) => instance.app.get(DataSource).getRepository(IncidentEvent);

async function listTruth(instance: E2eApp, { limit = 20, offset = 0, ...filter }: ListRead) {
  const where: FindOptionsWhere<IncidentEvent> = {};
  if (filter.namespace) where.namespace = filter.namespace;
  if (filter.severity) where.severity = filter.severity;
  if (filter.status) where.status = filter.status;
  const [items, total] = await repo(instance).findAndCount({ where, order: { createdAt: 'DESC', id: 'DESC' }, skip: offset, take: limit });
  return plain({ items, total });
}

/** Counted in JS from every row: another computation than the service's GROUP BY. */
async function statsTruth(instance: E2eApp) {
  const rows = await repo(instance).find({ select: { severity: true, status: true } });
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, rows.filter((r) => r.severity === s).length]));
  const byStatus = Object.fromEntries(STATUSES.map((s) => [s, rows.filter((r) => r.status === s).length]));
  return { total: rows.length, bySeverity, byStatus };
}

const getTruth = async (instance: E2eApp, id: string) => plain(await repo(instance).findOneByOrFail({ id }));

const matches = (filter: Filter, incident: { namespace: string; severity: string; status: string }) =>
  (!filter.namespace || filter.namespace === incident.namespace) && (!filter.severity || filter.severity === incident.severity) && (!filter.status || filter.status === incident.status);

async function create(instance: E2eApp, fields: { namespace: string; severity: Severity; title?: string }) {
  return (await http(instance).post('/incidents').send({ title: 'Created', ...fields }).expect(201)).body;
}

// ---- 1 and 2, with Redis (local tier, bus) and with the in-memory store ----

const redisKeyPrefix = `e2e-tags-${randomUUID()}:`;
afterAll(() => dropCacheKeys(redisKeyPrefix));
const backends: [string, (url: string) => Promise<E2eApp>][] = [
  ['Redis', (url) => startApp(url, { keyPrefix: redisKeyPrefix, seed: 40, cacheTtlMs: CACHE_TTL_MS })],
  ['the in-memory store', (url) => startMemoryApp(url, { seed: 40 })],
];

describe.each(backends)('with %s', (_, start) => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let app: E2eApp;
  beforeAll(async () => {
    database = await createTestDatabase();
    app = await start(database.url);
  });
  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  describe('a write evicts only the lists it can change', () => {
    let A: string;
    let B: string;
    let paths: Record<'a' | 'b' | 'bLow' | 'bOpenPage' | 'otherSeverity' | 'all' | 'stats', string>;
    /** Of each path: read now, and the response it must still give from the cache. */
    let cached: Record<string, unknown>;

    beforeAll(async () => {
      A = `tags-a-${uid()}`;
      B = `tags-b-${uid()}`;
      for (const namespace of [A, B]) for (const severity of ['low', 'high'] as const) await create(app, { namespace, severity });
      paths = {
        a: listPath({ namespace: A }),
        b: listPath({ namespace: B }),
        bLow: listPath({ namespace: B, severity: 'low' }),
        bOpenPage: listPath({ namespace: B, status: 'open', limit: 1, offset: 1 }),
        otherSeverity: listPath({ severity: 'medium' }), // unfiltered by namespace, of a severity the writes below do not touch
        all: listPath({}),
        stats: '/incidents/stats',
      };
    });

    /** Reads every path until it is a hit, and keeps its answer. */
    const warm = async () => {
      cached = {};
      for (const path of Object.values(paths)) {
        await read(app, path);
        const hit = await read(app, path);
        expect({ path, statements: hit.statements }).toEqual({ path, statements: 0 });
        cached[path] = hit.body;
      }
    };
    /** The read costs no SQL and answers what it answered before the write. */
    const stillCached = async (path: string) => {
      const { body, statements } = await read(app, path);
      expect({ path, statements }).toEqual({ path, statements: 0 });
      expect(body).toEqual(cached[path]);
    };
    const reloaded = async (path: string) => {
      const { body, statements } = await read(app, path);
      expect({ path, statements }).toEqual({ path, statements: 1 });
      return body;
    };

    it('a create in namespace A: A’s list, the unfiltered list and the stats are reloaded and show it; B’s lists and the list of another severity are not', async () => {
      await warm();
      const created = await create(app, { namespace: A, severity: 'critical', title: 'New in A' });

      for (const path of [paths.b, paths.bLow, paths.bOpenPage, paths.otherSeverity]) await stillCached(path);
      const a = await reloaded(paths.a);
      expect(a.items[0]).toEqual(created);
      expect(a.total).toBe((cached[paths.a] as { total: number }).total + 1);
      expect((await reloaded(paths.all)).items[0]).toEqual(created);
      const stats = await reloaded(paths.stats);
      expect(stats.bySeverity.critical).toBe((cached[paths.stats] as { bySeverity: { critical: number } }).bySeverity.critical + 1);
      expect(stats).toEqual(await statsTruth(app));
    });

    it('an update in namespace A: A’s list and the unfiltered list are reloaded and show it; B’s lists, the list of another severity, and (for a title) the stats are not', async () => {
      const { items } = (await read(app, paths.a)).body;
      const target = items.find((item: IncidentEvent) => item.severity === 'low');
      await warm();

      const renamed = (await http(app).patch(`/incidents/${target.id}`).send({ title: 'Renamed in A' }).expect(200)).body;
      expect(renamed).toEqual({ ...target, title: 'Renamed in A' });
      for (const path of [paths.b, paths.bLow, paths.bOpenPage, paths.otherSeverity, paths.stats]) await stillCached(path);
      expect((await reloaded(paths.a)).items.find((item: IncidentEvent) => item.id === target.id)).toEqual(renamed);
      expect((await reloaded(paths.all)).items.find((item: IncidentEvent) => item.id === target.id)).toEqual(renamed);
      expect((await read(app, `/incidents/${target.id}`)).body).toEqual(renamed);

      // A severity change moves the counts: the stats are reloaded too; B's lists still are not.
      await warm();
      const raised = (await http(app).patch(`/incidents/${target.id}`).send({ severity: 'high' }).expect(200)).body;
      for (const path of [paths.b, paths.bLow, paths.bOpenPage, paths.otherSeverity]) await stillCached(path);
      expect((await reloaded(paths.a)).items.find((item: IncidentEvent) => item.id === target.id)).toEqual(raised);
      expect(await reloaded(paths.stats)).toEqual(await statsTruth(app));
    });
  });

  describe('no write leaves a read stale', () => {
    it('an incident moved between severities and statuses leaves the old filters’ lists and joins the new ones, read right after the PATCH', async () => {
      const NS = `move-${uid()}`;
      const OTHER = `other-${uid()}`;
      await create(app, { namespace: OTHER, severity: 'low' });
      const moved = await create(app, { namespace: NS, severity: 'high' });
      // Every combination of filters around it: namespace (its own, another, none) x severity x status.
      const reads: ListRead[] = [];
      for (const namespace of [undefined, NS, OTHER])
        for (const severity of [undefined, 'high', 'low'] as const) for (const status of [undefined, 'open', 'resolved'] as const) reads.push({ namespace, severity, status });

      const check = async (step: string) => {
        const now = await getTruth(app, moved.id);
        for (const filter of reads) {
          const { body } = await read(app, listPath(filter));
          expect({ step, filter, body }).toEqual({ step, filter, body: await listTruth(app, filter) });
          // Every one of these lists holds the newest incidents first: `moved` is among them iff it matches.
          expect({ step, filter, listed: body.items.some((item: IncidentEvent) => item.id === moved.id) }).toEqual({ step, filter, listed: matches(filter, now) });
        }
        expect({ step, stats: (await read(app, '/incidents/stats')).body }).toEqual({ step, stats: await statsTruth(app) });
        expect({ step, incident: (await read(app, `/incidents/${moved.id}`)).body }).toEqual({ step, incident: now });
      };

      await check('created'); // every read is cached from here on
      for (const change of [{ severity: 'low' }, { status: 'resolved' }, { severity: 'high', status: 'open' }, { severity: 'low', status: 'resolved' }, { title: 'Moved' }, { status: 'open' }]) {
        const patched = (await http(app).patch(`/incidents/${moved.id}`).send(change).expect(200)).body;
        expect(patched).toEqual(await getTruth(app, moved.id));
        await check(JSON.stringify(change));
      }
    });

    it('namespaces that look like tag syntax are tags of their own: a write in one reloads its lists only', async () => {
      // `[object ...]` is refused in a tag by the library (incident-tags.ts writes the `[` escaped).
      const namespaces = ['[object Object]', '*', 'a:b', 'null', '","', `${uid()}\\`];
      for (const namespace of namespaces) await create(app, { namespace, severity: 'low' });
      for (const written of namespaces) {
        for (const namespace of namespaces) await read(app, listPath({ namespace }));
        const created = await create(app, { namespace: written, severity: 'low' });
        for (const namespace of namespaces) {
          const { body, statements } = await read(app, listPath({ namespace }));
          expect({ written, namespace, statements }).toEqual({ written, namespace, statements: namespace === written ? 1 : 0 });
          expect(body).toEqual(await listTruth(app, { namespace }));
          if (namespace === written) expect(body.items[0]).toEqual(created);
        }
      }
    });

    it('PATCH answers the updated incident; an unknown id is a 404 that evicts nothing', async () => {
      const incident = await create(app, { namespace: `patch-${uid()}`, severity: 'low' });
      const patched = (await http(app).patch(`/incidents/${incident.id}`).send({ status: 'resolved', title: 'Done' }).expect(200)).body;
      expect(patched).toEqual({ ...incident, status: 'resolved', title: 'Done', resolvedAt: expect.any(String) });
      expect(patched).toEqual(await getTruth(app, incident.id));
      await read(app, listPath({}));
      await http(app).patch('/incidents/00000000-0000-4000-8000-000000000000').send({ status: 'resolved' }).expect(404);
      expect((await read(app, listPath({}))).statements).toBe(0);
    });
  });
});

// ---- 3: a property test over random writes and reads ----

describe('property: after every step of random creates, updates and reads, every cached read is what the database holds', () => {
  const NAMESPACES = ['prop-a', 'prop-b'];
  const TITLES = ['Disk full', 'Latency', 'Errors'];
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let app: E2eApp;
  const keyPrefix = `e2e-tags-prop-${randomUUID()}:`;
  beforeAll(async () => {
    database = await createTestDatabase();
    app = await startApp(database.url, { keyPrefix, cacheTtlMs: CACHE_TTL_MS });
  });
  afterAll(async () => {
    await app?.close();
    await database?.drop();
    await dropCacheKeys(keyPrefix);
  });

  const severity = fc.constantFrom(...SEVERITIES);
  const status = fc.constantFrom(...STATUSES);
  const filter = fc.record({ namespace: fc.constantFrom(...NAMESPACES), severity, status }, { requiredKeys: [] });
  type Read = { kind: 'list'; list: ListRead } | { kind: 'stats' } | { kind: 'get'; pick: number };
  type Step =
    | Read
    | { kind: 'create'; namespace: string; severity: Severity; title: string }
    | { kind: 'update'; pick: number; changes: { severity?: Severity; status?: Status; title?: string } };
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ kind: fc.constant('create' as const), namespace: fc.constantFrom(...NAMESPACES), severity, title: fc.constantFrom(...TITLES) }),
    fc.record({ kind: fc.constant('update' as const), pick: fc.nat(), changes: fc.record({ severity, status, title: fc.constantFrom(...TITLES) }, { requiredKeys: [] }) }),
    fc.record({ kind: fc.constant('list' as const), list: fc.tuple(filter, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 2 })).map(([f, limit, offset]) => ({ ...f, limit, offset })) }),
    fc.record({ kind: fc.constant('stats' as const) }),
    fc.record({ kind: fc.constant('get' as const), pick: fc.nat() }),
  );

  it(`${RUNS} runs of up to 20 steps (TAGS_SEED=<n> replays one, TAGS_RUNS scales them)`, async () => {
    let ids: string[] = [];
    const pick = (n: number) => ids[n % ids.length];
    /** Reads checked, and those of them the cache answered (no SQL): the property must not hold only because nothing was cached. */
    const checked = { reads: 0, hits: 0 };
    const cachedRead = async (path: string) => {
      const { body, statements } = await read(app, path);
      checked.reads++;
      if (statements === 0) checked.hits++;
      return body;
    };
    /** Whether the cached read equals the same read straight from the database. */
    const verify = async (r: Read, label: string) => {
      if (r.kind === 'list') expect({ label, read: r, body: await cachedRead(listPath(r.list)) }).toEqual({ label, read: r, body: await listTruth(app, r.list) });
      else if (r.kind === 'stats') expect({ label, read: r, body: await cachedRead('/incidents/stats') }).toEqual({ label, read: r, body: await statsTruth(app) });
      else if (ids.length > 0) expect({ label, read: r, body: await cachedRead(`/incidents/${pick(r.pick)}`) }).toEqual({ label, read: r, body: await getTruth(app, pick(r.pick)) });
    };

    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 20 }), async (steps) => {
        // Every run starts from what the runs before left in the database and in the cache.
        ids = (await repo(app).find({ select: { id: true }, order: { createdAt: 'ASC', id: 'ASC' } })).map((row) => row.id);
        const readsSoFar = new Map<string, Read>();
        for (const [i, s] of steps.entries()) {
          const label = `step ${i}: ${JSON.stringify(s)}`;
          if (s.kind === 'create') {
            const { kind: _, ...fields } = s;
            ids.push((await create(app, fields)).id);
          } else if (s.kind === 'update') {
            if (ids.length === 0) continue;
            const patched = (await http(app).patch(`/incidents/${pick(s.pick)}`).send(s.changes).expect(200)).body;
            expect({ label, patched }).toEqual({ label, patched: await getTruth(app, pick(s.pick)) });
          } else {
            readsSoFar.set(JSON.stringify(s), s);
          }
          // Every read made so far in this run (cached now, or reloaded by an eviction) against the database.
          for (const r of readsSoFar.values()) await verify(r, label);
        }
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    expect(checked.hits).toBeGreaterThan(checked.reads / 2);
  }, 60_000);
});

// ---- the row lock: an update's old values are those it replaced ----

describe('concurrent updates of one incident', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let app: E2eApp;
  const keyPrefix = `e2e-tags-lock-${randomUUID()}:`;
  const clients: pg.Client[] = [];
  beforeAll(async () => {
    database = await createTestDatabase();
    app = await startApp(database.url, { keyPrefix, seed: 20, cacheTtlMs: CACHE_TTL_MS });
  });
  afterAll(async () => {
    for (const client of clients) await client.end().catch(() => undefined);
    await app?.close();
    await database?.drop();
    await dropCacheKeys(keyPrefix);
  });
  const connect = async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    clients.push(client);
    return client;
  };
  /** Sessions of the test database waiting on a lock. */
  const waitingOnLocks = async (probe: pg.Client) =>
    Number((await probe.query(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows[0].count);

  it('an update that waited for another one evicts the lists of the value that one wrote, not of the value it saw before waiting', async () => {
    const namespace = `lock-${uid()}`;
    const incident = await create(app, { namespace, severity: 'high' });
    const low = listPath({ namespace, severity: 'low' });
    const [first, second, probe] = [await connect(), await connect(), await connect()];

    // `first` stands for another update (another instance's): it moves the incident to `low`, and
    // holds the row until it commits. `second` queues for the row right behind it.
    await first.query('BEGIN');
    await first.query(`UPDATE incident_events SET severity = 'low' WHERE id = $1`, [incident.id]);
    await second.query('BEGIN');
    const secondLocked = second.query('SELECT id FROM incident_events WHERE id = $1 FOR UPDATE', [incident.id]);
    expect(await waitFor(async () => (await waitingOnLocks(probe)) === 1)).toBe(true);
    // The PATCH reads the incident, and waits for the row behind `second`.
    const patch = http(app).patch(`/incidents/${incident.id}`).send({ severity: 'medium' }).then((r) => r);
    expect(await waitFor(async () => (await waitingOnLocks(probe)) === 2)).toBe(true);
    await first.query('COMMIT'); // the row goes to `second`; the PATCH still waits

    // A reader sees the incident under `low` now, and that list is cached (the first update's
    // eviction, of `high` and `low`, would have come before this read).
    await secondLocked;
    expect((await read(app, low)).body.items.map((item: IncidentEvent) => item.id)).toEqual([incident.id]);
    expect((await read(app, low)).statements).toBe(0);

    await second.query('COMMIT'); // the PATCH goes on: `low` -> `medium`
    expect((await patch).status).toBe(200);
    // Its eviction covers the value it replaced (`low`, read under the lock), not only `high`.
    expect((await read(app, low)).body).toEqual({ items: [], total: 0 });
    expect((await read(app, listPath({ namespace, severity: 'medium' }))).body.items.map((item: IncidentEvent) => item.id)).toEqual([incident.id]);
  });
});
