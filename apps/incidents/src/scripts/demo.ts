// npm run demo: boot the app (embedded PostgreSQL and in-memory cache unless DATABASE_URL /
// REDIS_URL say otherwise), seed it, and show what the decorators do with a stampede:
// 1. One instance: N identical GETs on a cold list query, all released at the same instant
//    (demo/simultaneous-requests.ts), so they arrive while the first load is in flight: with the
//    decorators on, one load and N-1 callers joining it; off, N queries.
// 2. A fleet: two instances in child processes sharing Redis (REDIS_URL, else a Redis answering
//    on 127.0.0.1:6379; skipped, saying so, without one), the same stampede split across both,
//    with fleet-wide flights on and off (CACHE_FLEET_FLIGHTS): one load for the fleet, or one per
//    instance.
// 3. "Database down": the app's connections to PostgreSQL cut, its cached reads past their ttl,
//    requests to reads with staleIfError (lists, stats) and without it (one incident), side by side.
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { createApp } from '../bootstrap.js';
import { configFromEnv, redact } from '../config/app-config.js';
import { resolveDatabaseOrExit } from '../database/database-url.js';
import { SEED_NAMESPACES, seedIfEmpty } from '../database/seed-incidents.js';
import { DatabaseSwitch } from './database-switch.js';
import { dropDemoKeys } from './demo/drop-demo-keys.js';
import { FleetInstanceProcess } from './demo/fleet-instance-process.js';
import { addCounters, countersSince, readCounters, type FlightCounters } from './demo/flight-counters.js';
import { describeErrors, percentile, summarize } from './demo/outcome-summary.js';
import { redisAnswers } from './demo/redis-ping.js';
import { simultaneousRequests, type RequestOutcome } from './demo/simultaneous-requests.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '500' } } });
const REQUESTS = Number(values.requests);
if (!Number.isInteger(REQUESTS) || REQUESTS < 1 || REQUESTS > 5_000) {
  console.error(`--requests must be a whole number from 1 to 5000, got "${values.requests}"`);
  process.exit(2);
}
const PATH = '/incidents?namespace=payments&severity=critical&status=open&limit=20';
const GETS = `${REQUESTS} identical GET${REQUESTS === 1 ? '' : 's'}`;
/** Longest a stampede's request may take, from the release to the end of its response. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Instances of the app in the fleet case. */
const FLEET_SIZE = 2;
const LOCAL_REDIS = { host: '127.0.0.1', port: 6379 };
const step = (message: string) => console.log(`→ ${message}`);

const config = configFromEnv();
step(config.databaseUrl ? `database: ${redact(config.databaseUrl)}` : 'starting the embedded PostgreSQL (no DATABASE_URL)');
const database = await resolveDatabaseOrExit(config, (line) => console.error(line));
step(`cache: ${config.redisUrl ? `Redis at ${redact(config.redisUrl)}` : 'in-memory store (no REDIS_URL)'}`);

/** Every key prefix the demo's app instances wrote under: a cold cache for each run, removed from Redis at the end. */
const prefixes: string[] = [];
const newKeyPrefix = () => {
  const prefix = `demo-${randomUUID()}:`;
  prefixes.push(prefix);
  return prefix;
};

/** REQUESTS GETs of PATH released at once, request i to `ports[i % ports.length]`. */
function stampede(ports: readonly number[]): Promise<RequestOutcome[]> {
  return simultaneousRequests(
    Array.from({ length: REQUESTS }, (_, i) => ({ port: ports[i % ports.length], path: PATH })),
    { timeoutMs: REQUEST_TIMEOUT_MS },
  );
}

/** What went wrong with any request, printed under the table (the rows only count errors). */
const errorNotes: string[] = [];
function printTable(title: string, rows: object[], notes: string[]): void {
  console.log(`\n${title}`);
  console.table(rows);
  for (const line of [...notes, ...errorNotes.splice(0).map((note) => `errors, ${note}`)]) console.log(`  ${line}`);
}

/**
 * One row of a stampede table: what the clients saw, and what the app instance(s) did. With the
 * decorators off the library counts nothing (it is bypassed): its columns show "-".
 */
function stampedeRow(label: Record<string, string>, outcomes: readonly RequestOutcome[], counters: FlightCounters, options: { decorators: boolean; fleet?: boolean }) {
  const { requests, errors, p50, p99 } = summarize(outcomes);
  if (errors > 0) errorNotes.push(`${Object.values(label).join(', ')}: ${describeErrors(outcomes)}`);
  const counted = (n: number) => (options.decorators ? n : '-');
  return {
    ...label,
    requests,
    'SQL statements': counters.sql,
    loads: counted(counters.loads),
    flights: counted(counters.flights),
    joined: counted(counters.joined),
    hits: counted(counters.hits),
    ...(options.fleet && { 'lease waits': counters.leaseWaits }),
    errors,
    'p50 ms': p50 ?? '-',
    'p99 ms': p99 ?? '-',
  };
}

async function oneInstance(singleFlight: boolean) {
  // A key prefix of its own: the list query is cold for this run, even on a shared Redis.
  const app = await createApp({ ...config, databaseUrl: database.url, singleFlight, cacheKeyPrefix: newKeyPrefix() }, ['warn', 'error']);
  try {
    const seeded = await seedIfEmpty(app.get(DataSource));
    if (seeded) step(`seeded ${seeded} incidents`);
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    await warmUp(port);
    step(`decorators ${singleFlight ? 'ON ' : 'OFF'}: ${REQUESTS} connections opened, then ${REQUESTS} GET ${PATH} released at once`);
    const before = readCounters(app);
    const outcomes = await stampede([port]);
    const counters = countersSince(readCounters(app), before);
    return stampedeRow({ decorators: singleFlight ? 'on' : 'off' }, outcomes, counters, { decorators: singleFlight });
  } finally {
    await app.close();
  }
}

/**
 * One read of another query before the stampede, so every run starts with a database connection
 * open and the request path warm: the first run would otherwise also pay for those.
 */
async function warmUp(port: number): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${port}/incidents?namespace=warm-up&limit=1`, { signal: AbortSignal.timeout(10_000) });
  await response.arrayBuffer();
}

/** Redis for the fleet case: REDIS_URL, else one answering PING on 127.0.0.1:6379. */
async function fleetRedis(): Promise<string | undefined> {
  if (config.redisUrl) return config.redisUrl;
  return (await redisAnswers(LOCAL_REDIS.host, LOCAL_REDIS.port)) ? `redis://${LOCAL_REDIS.host}:${LOCAL_REDIS.port}` : undefined;
}

async function fleet(redisUrl: string, fleetFlights: boolean) {
  const mode = fleetFlights ? 'on' : 'off';
  step(`fleet-wide flights ${mode.toUpperCase().padEnd(3)}: starting ${FLEET_SIZE} instances of the app (child processes) sharing Redis at ${redact(redisUrl)}`);
  const instanceConfig = { ...config, databaseUrl: database.url, redisUrl, singleFlight: true, fleetFlights, cacheKeyPrefix: newKeyPrefix() };
  const started = await Promise.allSettled(Array.from({ length: FLEET_SIZE }, () => FleetInstanceProcess.start(instanceConfig)));
  const instances = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  try {
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    const share = (i: number) => Math.floor(REQUESTS / FLEET_SIZE) + (i < REQUESTS % FLEET_SIZE ? 1 : 0);
    step(`fleet-wide flights ${mode.toUpperCase().padEnd(3)}: ${REQUESTS} GET released at once, ${instances.map((_, i) => share(i)).join(' + ')} across the instances`);
    await Promise.all(instances.map((instance) => warmUp(instance.port)));
    const before = await Promise.all(instances.map((instance) => instance.counters()));
    const outcomes = await stampede(instances.map((instance) => instance.port));
    const after = await Promise.all(instances.map((instance) => instance.counters()));
    const counters = after.map((counts, i) => countersSince(counts, before[i]));
    const row = (instance: string, of: readonly RequestOutcome[], counts: FlightCounters) =>
      stampedeRow({ 'fleet-wide flights': mode, instance }, of, counts, { decorators: true, fleet: true });
    return [
      ...instances.map((_, i) => row(String(i + 1), outcomes.filter((_, j) => j % FLEET_SIZE === i), counters[i])),
      row('total', outcomes, counters.reduce(addCounters)),
    ];
  } finally {
    await Promise.all(instances.map((instance) => instance.close()));
  }
}

/** A short ttl, so the scenario need not wait long for its entries to go stale. */
const DOWN_TTL_MS = 1_000;
/** Requests per kind of read while the database is down, at most this many at a time. */
const DOWN_REQUESTS = 200;
const DOWN_CONCURRENCY = 50;

async function databaseDown() {
  const relay = await DatabaseSwitch.start(database.url);
  const app = await createApp({ ...config, databaseUrl: relay.url, singleFlight: true, cacheKeyPrefix: newKeyPrefix(), cacheTtlMs: DOWN_TTL_MS }, ['error']);
  try {
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    const base = `http://127.0.0.1:${port}`;
    const lists = [...SEED_NAMESPACES.map((ns) => `/incidents?namespace=${ns}&limit=20`), '/incidents/stats'];
    const page = (await (await fetch(`${base}/incidents?limit=${lists.length}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).json()) as { items: { id: string }[] };
    const incidents = page.items.map((item) => `/incidents/${item.id}`);
    step(`database down: ${lists.length} lists and stats (staleIfError) and ${incidents.length} incidents (no stale window) cached, ttl ${DOWN_TTL_MS} ms`);
    for (const path of [...lists, ...incidents]) {
      if (!(await fetch(`${base}${path}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).ok) throw new Error(`GET ${path} failed while the database was up`);
    }
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
          const status = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }).then(async (response) => (await response.arrayBuffer(), response.status), () => 0);
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

let fleetUrl: string | undefined;
try {
  const single = [await oneInstance(true), await oneInstance(false)];
  printTable(`${GETS} on a cold list query, one instance, all released at the same instant`, single, [
    "SQL statements: the app's TypeORM logger. loads, flights, joined, hits: SingleFlightStats of IncidentsService.list;",
    'flights + joined = requests, and a request that arrived after the load had settled would be a hit. Decorators off:',
    'the library counts nothing, every request runs the query. Latencies from the release; client and app share this process.',
  ]);

  fleetUrl = await fleetRedis();
  if (fleetUrl) {
    try {
      const rows = [...(await fleet(fleetUrl, true)), ...(await fleet(fleetUrl, false))];
      printTable(`${GETS} on a cold list query, split across ${FLEET_SIZE} instances (child processes) sharing Redis, released at once`, rows, [
        'Fleet-wide flights on: the instance that takes the lease loads; the other reads the entry it wrote (a hit), after waiting',
        'for the lease (a lease wait) or on taking it once that load has ended. Off (CACHE_FLEET_FLIGHTS=off): each instance loads',
        'once for itself. On every instance the other callers join its flight.',
      ]);
    } catch (error) {
      step(`fleet case failed, going on without it: ${error instanceof Error ? error.message : String(error)}`);
    }
  } else {
    step(`fleet case skipped: no REDIS_URL, and no Redis answered PING at ${LOCAL_REDIS.host}:${LOCAL_REDIS.port} (to run it: REDIS_URL=redis://host:6379 npm run demo)`);
  }

  const down = await databaseDown();
  printTable(`Database down (the app's connections to PostgreSQL cut), every cached read past its ttl: served stale, or an error`, down, []);
} finally {
  for (const url of new Set([config.redisUrl, fleetUrl])) {
    if (!url) continue;
    const removed = await dropDemoKeys(url, prefixes).catch((error: Error) => (console.error(`could not remove the demo's keys from Redis: ${error.message}`), 0));
    if (removed) step(`removed the demo's ${removed} keys from Redis at ${redact(url)}`);
  }
  await database.stop();
}
