// npm run demo: boot the app (embedded PostgreSQL and in-memory cache unless DATABASE_URL /
// REDIS_URL say otherwise), seed it, fire a stampede of identical GETs on a cold list query
// with the decorators on and then off, and print what each cost. Then "database down": the app's
// connections to PostgreSQL cut, its cached reads past their ttl, requests to reads with
// staleIfError (lists, stats) and without it (one incident), side by side.
import 'reflect-metadata';
import { CACHE_MANAGER } from '@nestjs/cache-manager';
import autocannon from 'autocannon';
import type { Cache } from 'cache-manager';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { createApp } from '../bootstrap.js';
import { configFromEnv, redact } from '../config/app-config.js';
import { resolveDatabaseOrExit } from '../database/database-url.js';
import { seedIfEmpty } from '../database/seed-incidents.js';
import { SqlStatementCounter } from '../database/sql-statement-counter.js';
import { SEED_NAMESPACES } from '../database/seed-incidents.js';
import { DatabaseSwitch } from './database-switch.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '500' } } });
const REQUESTS = Number(values.requests);
if (!Number.isInteger(REQUESTS) || REQUESTS < 1 || REQUESTS > 5_000) {
  console.error(`--requests must be a whole number from 1 to 5000, got "${values.requests}"`);
  process.exit(2);
}
const PATH = '/incidents?namespace=payments&severity=critical&status=open&limit=20';
const step = (message: string) => console.log(`→ ${message}`);

const config = configFromEnv();
step(config.databaseUrl ? `database: ${redact(config.databaseUrl)}` : 'starting the embedded PostgreSQL (no DATABASE_URL)');
const database = await resolveDatabaseOrExit(config, (line) => console.error(line));
step(`cache: ${config.redisUrl ? `Redis at ${redact(config.redisUrl)}` : 'in-memory store (no REDIS_URL)'}`);

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

async function stampede(singleFlight: boolean) {
  // A key prefix of its own: the list query is cold for this run, even on a shared Redis.
  const app = await createApp({ ...config, databaseUrl: database.url, singleFlight, cacheKeyPrefix: `demo-${randomUUID()}:` }, ['warn', 'error']);
  const seeded = await seedIfEmpty(app.get(DataSource));
  if (seeded) step(`seeded ${seeded} incidents`);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const sql = app.get(SqlStatementCounter);
  const cache = app.get<Cache>(CACHE_MANAGER);
  // Round trips to the store behind CACHE_MANAGER, where the library reads (an entry and its tags' tokens at once).
  let cacheReads = 0;
  const store = cache.stores.at(-1) as unknown as { getMany: (...args: unknown[]) => unknown };
  const getMany = store.getMany.bind(store);
  store.getMany = (...args: unknown[]) => (cacheReads++, getMany(...args));

  step(`decorators ${singleFlight ? 'ON ' : 'OFF'}: ${REQUESTS} concurrent GET ${PATH}`);
  const latencies: number[] = [];
  let errors = 0;
  const sqlBefore = sql.count;
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const run = autocannon(
      // One request per connection, all at once: the stampede. Bounded by count and by time.
      { url: `http://127.0.0.1:${port}${PATH}`, connections: REQUESTS, amount: REQUESTS, timeout: 30, duration: 60 },
      (error) => (error ? reject(error) : resolve()),
    );
    run.on('response', (_client, status, _bytes, ms) => {
      latencies.push(ms);
      if (status !== 200) errors++;
    });
    run.on('reqError', () => errors++);
  });
  const wall = performance.now() - started;
  latencies.sort((a, b) => a - b);
  await app.close();
  return {
    decorators: singleFlight ? 'on' : 'off',
    requests: latencies.length,
    'SQL statements': sql.count - sqlBefore,
    'cache reads': cacheReads,
    errors,
    'p50 ms': Math.round(percentile(latencies, 50)),
    'p95 ms': Math.round(percentile(latencies, 95)),
    'p99 ms': Math.round(percentile(latencies, 99)),
    'wall ms': Math.round(wall),
  };
}

/** A short ttl, so the scenario need not wait long for its entries to go stale. */
const DOWN_TTL_MS = 1_000;
/** Requests per kind of read while the database is down, at most this many at a time. */
const DOWN_REQUESTS = 200;
const DOWN_CONCURRENCY = 50;

async function databaseDown() {
  const relay = await DatabaseSwitch.start(database.url);
  const app = await createApp({ ...config, databaseUrl: relay.url, singleFlight: true, cacheKeyPrefix: `demo-${randomUUID()}:`, cacheTtlMs: DOWN_TTL_MS }, ['error']);
  try {
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    const base = `http://127.0.0.1:${port}`;
    const lists = [...SEED_NAMESPACES.map((ns) => `/incidents?namespace=${ns}&limit=20`), '/incidents/stats'];
    const page = (await (await fetch(`${base}/incidents?limit=${lists.length}`)).json()) as { items: { id: string }[] };
    const incidents = page.items.map((item) => `/incidents/${item.id}`);
    step(`database down: ${lists.length} lists and stats (staleIfError) and ${incidents.length} incidents (no stale window) cached, ttl ${DOWN_TTL_MS} ms`);
    for (const path of [...lists, ...incidents]) if (!(await fetch(`${base}${path}`)).ok) throw new Error(`GET ${path} failed while the database was up`);
    relay.cut();
    step(`connections to PostgreSQL cut; waiting ${DOWN_TTL_MS} ms for every entry to pass its ttl`);
    await new Promise((resolve) => setTimeout(resolve, DOWN_TTL_MS + 100));
    const rows = [];
    for (const [reads, paths, stale] of [['lists and stats', lists, 'staleWhileRevalidate 30 s, staleIfError 10 min'], ['one incident', incidents, 'none']] as const) {
      step(`${DOWN_REQUESTS} GETs of ${reads}, ${DOWN_CONCURRENCY} at a time`);
      const latencies: number[] = [];
      const statuses = new Map<number, number>();
      let next = 0;
      const worker = async () => {
        while (next < DOWN_REQUESTS) {
          const path = paths[next++ % paths.length];
          const started = performance.now();
          const status = await fetch(`${base}${path}`).then(async (response) => (await response.arrayBuffer(), response.status), () => 0);
          latencies.push(performance.now() - started);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      };
      await Promise.all(Array.from({ length: DOWN_CONCURRENCY }, worker));
      latencies.sort((a, b) => a - b);
      const errors = [...statuses].filter(([status]) => status < 200 || status >= 300);
      rows.push({
        reads,
        'stale window': stale,
        requests: latencies.length,
        errors: errors.reduce((n, [, count]) => n + count, 0),
        statuses: [...statuses].map(([status, count]) => `${count} x ${status || 'no answer'}`).join(', '),
        'p50 ms': Number(percentile(latencies, 50).toFixed(1)),
        'p99 ms': Number(percentile(latencies, 99).toFixed(1)),
      });
    }
    return rows;
  } finally {
    relay.restore();
    await app.close();
    await relay.close();
  }
}

try {
  const rows = [await stampede(true), await stampede(false)];
  console.log(`\n${REQUESTS} concurrent identical GETs on a cold list query (SQL counted by the app's TypeORM logger)`);
  console.table(rows);
  const down = await databaseDown();
  console.log(`\nDatabase down (the app's connections to PostgreSQL cut), every cached read past its ttl: served stale, or an error`);
  console.table(down);
} finally {
  await database.stop();
}
