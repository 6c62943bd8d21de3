// The decision's success metrics, measured on a fleet: 2 instances of the app (child processes)
// on the real PostgreSQL and Redis, a database of their own seeded by the app's seed script, a
// driver over HTTP for a fixed time (Zipf-skewed lists, gets and stats, 5% writes, every write
// read back from both instances), once with the decorators on and once off (SINGLE_FLIGHT=off).
// Prints one table, a column per mode, each target beside its figures: deduplication of
// concurrent identical misses (from the database side: a query log preloaded into each instance,
// bench/workload/query-log.ts), cache hit rate, p50/p95/p99, pool waits, stale reads after writes.
//
// npm run bench:workload                      (both modes, 25 s each: about 75 s on 2 cores)
// WORKLOAD_QUICK=1 npm run bench:workload     (a smoke run: 6 s per mode, a smaller seed)
// WORKLOAD_SECONDS=30 WORKLOAD_CONNECTIONS=32 WORKLOAD_MODES=on,off WORKLOAD_SEED_COUNT=4000
// WORKLOAD_TTL_MS=3000 (the instances' CACHE_TTL_MS) WORKLOAD_WARMUP_SECONDS=3 WORKLOAD_ZIPF_S=1
// WORKLOAD_WRITE_SHARE=0.05 (the share of POST + PATCH; reads keep their proportions)
// WORKLOAD_APP_ROOT=/tmp/before: run the app of another checkout (its node_modules linked to
//   these); the bench's code is always this repository's. For the app with one `incidents` tag
//   instead of its filter tags (the before/after of docs/benchmarks.md):
//   git worktree add --detach /tmp/one-tag HEAD && git -C /tmp/one-tag apply "$PWD/bench/workload/one-incidents-tag.patch"
//   ln -s "$PWD/node_modules" /tmp/one-tag/node_modules && WORKLOAD_APP_ROOT=/tmp/one-tag WORKLOAD_MODES=on npm run bench:workload
// WORKLOAD_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres: where the bench creates
//   its database), WORKLOAD_REDIS_URL (default redis://127.0.0.1:6379).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { AppInstance } from './workload/app-instance.js';
import { cpuSnapshot, cpuUse } from './workload/cpu.js';
import { Cleanup } from './workload/cleanup.js';
import { BenchDatabase } from './workload/database.js';
import { Driver } from './workload/driver.js';
import { findDuplicates, QueryLog } from './workload/duplicates.js';
import { figures, type Figures } from './workload/figures.js';
import { Target } from './workload/http-client.js';
import { max, scrape, type Scrape } from './workload/metrics.js';
import { deleteKeysContaining, redisVersion } from './workload/redis-keys.js';
import { duplicatesTable, failuresText, latencyTable, mainTable, methodsTable, staleTable, verdicts } from './workload/report.js';
import { catalog, describeMix, mixWith } from './workload/workload-mix.js';
import { seededRandom } from './workload/zipf.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

function envNumber(name: string, fallback: number, min: number, maxValue: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > maxValue) throw new Error(`${name} must be a number from ${min} to ${maxValue}, got "${raw}"`);
  return n;
}

const QUICK = process.env.WORKLOAD_QUICK === '1';
const SECONDS = envNumber('WORKLOAD_SECONDS', QUICK ? 6 : 25, 1, 600);
const WARMUP_SECONDS = envNumber('WORKLOAD_WARMUP_SECONDS', QUICK ? 1 : 3, 0, 60);
const CONNECTIONS = Math.round(envNumber('WORKLOAD_CONNECTIONS', 32, 2, 1_024));
const SEED_COUNT = Math.round(envNumber('WORKLOAD_SEED_COUNT', QUICK ? 1_500 : 4_000, 100, 1_000_000));
const TTL_MS = Math.round(envNumber('WORKLOAD_TTL_MS', 3_000, 100, 600_000));
const ZIPF_S = envNumber('WORKLOAD_ZIPF_S', 1, 0, 5);
const MIX = mixWith(envNumber('WORKLOAD_WRITE_SHARE', 0.05, 0, 1));
const MODES = (process.env.WORKLOAD_MODES ?? 'on,off').split(',').map((m) => m.trim()).filter(Boolean);
if (MODES.length === 0 || MODES.some((m) => m !== 'on' && m !== 'off')) throw new Error(`WORKLOAD_MODES: "on", "off" or both, comma-separated; got "${process.env.WORKLOAD_MODES}"`);
const APP_ROOT = realpathSync(process.env.WORKLOAD_APP_ROOT || ROOT);
const PG_URL = process.env.WORKLOAD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.WORKLOAD_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** The app's own settings found in this environment: the instances inherit them (those the bench sets excepted). */
const INHERITED = Object.keys(process.env)
  .filter((k) => /^(CACHE_|SINGLE_FLIGHT_|DB_)/.test(k) && !['CACHE_KEY_PREFIX', 'CACHE_TTL_MS'].includes(k))
  .sort()
  .map((k) => `${k}=${k.includes('SECRET') ? '***' : process.env[k]}`);
const INSTANCES = 2;
const REQUEST_TIMEOUT_MS = 10_000;
const HEALTHY_TIMEOUT_MS = 90_000;
const MAX_REQUESTS_PER_LOOP = 1_000_000;
/** After the load stops: background refreshes and the last bus messages land before the final scrape. */
const SETTLE_MS = 500;
const SAMPLE_EVERY_MS = 1_000;

if (!existsSync(join(APP_ROOT, 'apps/incidents/src/main.ts'))) throw new Error(`WORKLOAD_APP_ROOT=${APP_ROOT}: no apps/incidents/src/main.ts there`);
if (!existsSync(join(APP_ROOT, 'node_modules'))) throw new Error(`WORKLOAD_APP_ROOT=${APP_ROOT}: no node_modules (ln -s ${join(ROOT, 'node_modules')} ${join(APP_ROOT, 'node_modules')})`);

const runStarted = performance.now();
const progress = (line: string) => process.stderr.write(`[workload ${((performance.now() - runStarted) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);
const epochNow = () => performance.timeOrigin + performance.now();

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The commit of the app under test, and whether its app or library differ from it. */
function appVersion(root: string): string {
  try {
    const commit = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', timeout: 5_000 }).trim();
    const dirty = execFileSync('git', ['-C', root, 'status', '--porcelain', '--', 'apps', 'libs'], { encoding: 'utf8', timeout: 5_000 }).trim();
    const tags = existsSync(join(root, 'apps/incidents/src/incidents/incident-tags.ts')) ? 'lists tagged by their filters' : "one global 'incidents' tag";
    return `${commit}${dirty ? ' + uncommitted changes in apps/ or libs/' : ''} (${tags})`;
  } catch {
    return 'not a git checkout';
  }
}

const APP_VERSION = appVersion(APP_ROOT); // read before the run: others may commit meanwhile
let listCombinations = 0;
const runId = randomBytes(4).toString('hex');
const database = new BenchDatabase(PG_URL, `sf_workload_${runId}`);
const keyMarker = `sfwl-${runId}-`;
const cleanup = new Cleanup();
const instances = new Set<AppInstance>();
let activeDriver: Driver | undefined;
cleanup.onSignals(
  progress,
  () => activeDriver?.stop(),
  () => instances.forEach((i) => i.killNow()),
);

/** Every instance's /metrics, each bounded in time. */
const scrapeAll = (fleet: AppInstance[]): Promise<Scrape[]> => Promise.all(fleet.map((i) => scrape(i.baseUrl)));

async function runMode(mode: 'on' | 'off', label: string): Promise<Figures> {
  const prefix = `${keyMarker}${mode}:`;
  progress(`${label}: seeding ${SEED_COUNT.toLocaleString('en-US')} incidents (the app's seed script)`);
  await database.seed(APP_ROOT, SEED_COUNT, { REDIS_URL, CACHE_KEY_PREFIX: prefix });
  const { incidents, namespaces } = await database.incidents();
  // The same ranks in both modes: the hottest list and incident are the same ones.
  const work = catalog(incidents, namespaces, ZIPF_S, seededRandom(20_260_101));
  listCombinations = work.lists.items.length;

  const queryLog = new QueryLog();
  const ports = [await freePort(), await freePort()];
  const fleet = Array.from({ length: INSTANCES }, (_, i) => {
    const instance = new AppInstance({
      name: String.fromCharCode(65 + i),
      appRoot: APP_ROOT,
      port: ports[i],
      queryLog,
      env: { DATABASE_URL: database.url, REDIS_URL, CACHE_KEY_PREFIX: prefix, CACHE_TTL_MS: String(TTL_MS), SINGLE_FLIGHT: mode },
    });
    instances.add(instance);
    return instance;
  });
  const stopFleet = cleanup.add(`stopping the ${label} instances`, async () => {
    await Promise.all(fleet.map((i) => i.stop()));
    fleet.forEach((i) => instances.delete(i));
  });
  const targets = fleet.map((i) => new Target(i.name, i.port));
  try {
    progress(`${label}: starting ${INSTANCES} instances (pids ${fleet.map((i) => i.pid).join(', ')}), waiting for GET /health (at most ${HEALTHY_TIMEOUT_MS / 1000} s)`);
    await Promise.all(fleet.map((i) => i.waitHealthy(HEALTHY_TIMEOUT_MS)));

    if (WARMUP_SECONDS > 0) {
      progress(`${label}: warm-up ${WARMUP_SECONDS} s (not counted)`);
      activeDriver = new Driver({ targets, connections: CONNECTIONS, durationMs: WARMUP_SECONDS * 1000, catalog: work, mix: MIX, seed: 1, requestTimeoutMs: REQUEST_TIMEOUT_MS, maxRequestsPerLoop: MAX_REQUESTS_PER_LOOP });
      await activeDriver.run();
      await sleep(SETTLE_MS);
    }

    await Promise.all(fleet.map((i) => i.flushQueryLog()));
    const before = await scrapeAll(fleet);
    const pids = fleet.map((i) => i.pid!).filter(Boolean);
    const cpuBefore = cpuSnapshot(pids);
    const from = epochNow();
    progress(`${label}: measuring ${SECONDS} s, ${CONNECTIONS} connections (${CONNECTIONS / INSTANCES} per instance)`);
    const driver = (activeDriver = new Driver({ targets, connections: CONNECTIONS, durationMs: SECONDS * 1000, catalog: work, mix: MIX, seed: 2, requestTimeoutMs: REQUEST_TIMEOUT_MS, maxRequestsPerLoop: MAX_REQUESTS_PER_LOOP }));

    // Pending checkouts are a gauge: sampled while the load runs (each sample bounded, none overlapping).
    let pendingMax = 0;
    let sampling = true;
    const sampler = (async () => {
      let lastReport = performance.now();
      while (sampling) {
        await sleep(SAMPLE_EVERY_MS);
        if (!sampling) break;
        const scrapes = await scrapeAll(fleet).catch(() => []);
        pendingMax = Math.max(pendingMax, max(scrapes, 'db_client_connection_pending_requests'));
        if (performance.now() - lastReport >= 5_000) {
          lastReport = performance.now();
          progress(`${label}:   ${driver.requests.toLocaleString('en-US')} requests so far`);
        }
      }
    })();
    const result = await driver.run().finally(() => (sampling = false));
    const to = epochNow();
    const cpuAfter = cpuSnapshot(pids);
    await sampler;
    await sleep(SETTLE_MS);
    await Promise.all(fleet.map((i) => i.flushQueryLog()));
    const after = await scrapeAll(fleet);
    progress(`${label}: ${result.requests.toLocaleString('en-US')} requests in ${(result.elapsedMs / 1000).toFixed(1)} s; ${queryLog.executions.length.toLocaleString('en-US')} SELECTs logged`);
    const cpu = cpuBefore && cpuAfter && cpuUse(cpuBefore, cpuAfter);
    if (cpu && cpu.otherShare > 0.1) progress(`${label}: warning: ${(cpu.otherShare * 100).toFixed(0)}% of the cores went to other work during the window: this mode's figures are skewed`);
    return figures({ label, driver: result, before, after, duplicates: findDuplicates(queryLog, from, to), pendingMax, cpu });
  } finally {
    activeDriver = undefined;
    targets.forEach((t) => t.close());
    await stopFleet();
    const removed = await deleteKeysContaining(REDIS_URL, prefix);
    progress(`${label}: instances stopped; ${removed} Redis keys under ${prefix} deleted`);
  }
}

/** How busy the cores are with nothing of this bench running: other work on the machine skews every figure. */
async function idleBusyShare(): Promise<number | undefined> {
  const before = cpuSnapshot([]);
  await sleep(1_000);
  const after = cpuSnapshot([]);
  return before && after ? cpuUse(before, after).busyShare : undefined;
}

const results: Figures[] = [];
try {
  const busyBefore = await idleBusyShare();
  if (busyBefore !== undefined && busyBefore > 0.2) progress(`warning: the cores are ${(busyBefore * 100).toFixed(0)}% busy before the bench starts anything: other work will skew the figures`);
  const [postgresVersion, redis] = await Promise.all([database.serverVersion(), redisVersion(REDIS_URL)]);
  await database.create();
  cleanup.add(`dropping database ${database.name}`, () => database.drop());
  cleanup.add(`deleting Redis keys containing ${keyMarker}`, () => deleteKeysContaining(REDIS_URL, keyMarker));
  progress(`database ${database.name} created; app from ${APP_ROOT}: ${APP_VERSION}`);
  for (const mode of MODES as ('on' | 'off')[]) results.push(await runMode(mode, mode === 'on' ? 'decorators on' : 'decorators off'));

  const cores = cpus().length;
  console.log(`\n## Workload: ${INSTANCES} instances, ${CONNECTIONS} connections, ${SECONDS} s per mode${QUICK ? ' (WORKLOAD_QUICK: a smoke run, not a measurement)' : ''}\n`);
  console.log(`App: ${APP_ROOT} at ${APP_VERSION}${INHERITED.length ? `; inherited settings: ${INHERITED.join(' ')}` : ''}.`);
  console.log(
    `Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cores} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; Node ${process.version}, PostgreSQL ${postgresVersion}, Redis ${redis}. ` +
      `The load generator, both instances, PostgreSQL and Redis share these ${cores} cores: the figures are this machine's, the ratios between modes are what carries over. ` +
      `Before the run the cores were ${busyBefore === undefined ? 'of unknown load' : `${(busyBefore * 100).toFixed(0)}% busy`} with other work (the 'other' CPU column: during it).`,
  );
  console.log(
    `Data: ${SEED_COUNT.toLocaleString('en-US')} incidents (the app's seed), reseeded before each mode. Instances: CACHE_TTL_MS=${TTL_MS} (lists and stats then served stale up to 30 s while one refresh runs), a local tier and fleet-wide flights (the app's defaults with Redis). ` +
      `Mix per loop: ${describeMix(MIX)} (lists: ${listCombinations} filter x page combinations; PATCH changes status, severity, title: namespace is not patchable), ranks drawn Zipf s=${ZIPF_S}; warm-up ${WARMUP_SECONDS} s not counted.\n`,
  );
  console.log(mainTable(results));
  console.log(
    '\nDeduplication of concurrent identical misses = 1 - duplicates / (duplicates + coalesced callers), from the database side so that it means the same in both modes. ' +
      'A duplicate is a SELECT (same text and parameters, logged in each instance by a preload wrapping pg) that started while an identical one was still running, in either instance: its caller could have joined that one. ' +
      "Coalesced callers are the library's singleflight_joined_total + singleflight_lease_waits_total - singleflight_lease_takeovers_total: callers that found an identical load in flight and ran none. " +
      'Cache hit rate = (hits local + shared + stale) / (those + misses), the library counters summed over both instances. Stale reads: after every acknowledged PATCH, GET /incidents/:id on both instances at once; after every third, the lists of its new and old filters (limit 100) on both; after every third acknowledged POST, the list of the filters of the new incident on both.\n',
  );
  console.log('Duplicates by SELECT (the breakdown of the duplicates row):\n');
  console.log(duplicatesTable(results));
  console.log('\nLatency by request (ms):\n');
  console.log(latencyTable(results));
  const methods = methodsTable(results);
  if (methods) console.log(`\nThe library's counters by method, both instances:\n\n${methods}`);
  console.log('\nStale-read checks:\n');
  console.log(staleTable(results));
  const notes = failuresText(results);
  if (notes.length) console.log(`\n${notes.join('\n')}`);
  console.log('');
  for (const f of results) {
    const v = Object.entries(verdicts(f)).filter(([, ok]) => ok !== undefined);
    console.log(`${f.label}: ${v.filter(([, ok]) => ok).length} of ${v.length} targets met${v.some(([, ok]) => !ok) ? ` (not: ${v.filter(([, ok]) => !ok).map(([k]) => k).join(', ')})` : ''}`);
  }
} finally {
  await cleanup.run(progress);
  progress(`done in ${((performance.now() - runStarted) / 1000).toFixed(0)} s; database ${database.name} dropped, Redis keys deleted`);
}
