// 1. Fleet-wide flights: K = 1, 2, 4 application processes (bench/fleet-worker.ts), each with N
//    concurrent callers on one cold key whose load is a 50 ms query, all released together.
//    `@SingleFlight({ distributed: true })` vs per-process flights: loads, Redis commands by type
//    (INFO commandstats deltas of a private redis-server, so nothing else is counted) and the
//    callers' p50/p99, over several rounds with fresh keys.
// 2. Warm hits per second of one cached 20-row page in one process: a plain cache.get from Redis
//    (the baseline), the decorators without and with the local tier (copy, freeze), and
//    bentocache's L1 memory in front of its L2 Redis, side by side in one run.
// npm run bench:fleet
import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Inject, Injectable } from '@nestjs/common';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis';
import type { Cache } from 'cache-manager';
import { Redis } from 'ioredis';
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { Cached, SingleFlight } from '@app/single-flight';
import { CachedExecutor } from '../libs/single-flight/src/cached-executor.js';
import { freePort, PrivateRedis, REDIS_BIN } from '../libs/single-flight/test/support/private-redis.js';
import type { BurstReport, WorkerCommand, WorkerConfig, WorkerMessage } from './fleet-worker.js';
import { benchApp, incidentPage, redisKeyv } from './support.js';
import { percentile } from './percentile.js';

const FLEET_SIZES = [1, 2, 4];
const CALLERS = 250; // per process
const LOAD_MS = 50; // the simulated database query
const WARMUP_ROUNDS = 2; // per mode and fleet size, not counted (JIT, first connections)
const ROUNDS = 8; // counted, per mode and fleet size
const START_TIMEOUT_MS = 30_000;
const BURST_TIMEOUT_MS = 15_000;

const WORKER = fileURLToPath(new URL('./fleet-worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../', import.meta.url));


/** Rejects after `ms` with `what` in the message: every wait on a worker is bounded. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A command as sent, before its id is added (distributed over the union). */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

class Worker {
  readonly ready: Promise<void>;
  private readonly child: ChildProcess;
  private nextId = 0;
  private readonly replies = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();

  constructor(config: WorkerConfig) {
    this.child = fork(WORKER, [], {
      cwd: ROOT, // where the loader finds tsconfig.json and the @app/single-flight alias
      execArgv: ['--import', '@swc-node/register/esm-register'],
      env: { ...process.env, FLEET_BENCH: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.ready = within(
      new Promise<void>((resolve, reject) => {
        this.child.on('message', (message: WorkerMessage) => {
          if ('event' in message) return message.event === 'ready' ? resolve() : reject(new Error(`worker ${this.child.pid}: ${message.message}`));
          const pending = this.replies.get(message.id);
          this.replies.delete(message.id);
          if (message.ok) pending?.resolve(message.value);
          else pending?.reject(new Error(`worker ${this.child.pid}: ${message.message}`));
        });
        this.child.once('exit', (code, signal) => {
          const error = new Error(`worker ${this.child.pid} exited (${signal ?? code})`);
          reject(error);
          for (const pending of this.replies.values()) pending.reject(error);
          this.replies.clear();
        });
      }),
      START_TIMEOUT_MS,
      'worker start',
    );
  }

  private request<T>(command: WithoutId<WorkerCommand>, timeoutMs: number): Promise<T> {
    const id = ++this.nextId;
    const reply = new Promise<T>((resolve, reject) => this.replies.set(id, { resolve: resolve as (value: unknown) => void, reject }));
    this.child.send({ ...command, id });
    return within(reply, timeoutMs, `worker ${this.child.pid} ${command.command}`);
  }

  burst(key: string, distributed: boolean, at: number): Promise<BurstReport> {
    return this.request({ command: 'burst', key, distributed, callers: CALLERS, at }, BURST_TIMEOUT_MS);
  }

  /** Closes the application; kills this worker (by its own pid) if it does not leave in time. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      await this.request({ command: 'close' }, 10_000);
      await within(exited, 5_000, 'worker exit');
    } catch {
      this.child.kill('SIGKILL');
      await exited;
    }
  }
}

/** Calls per command since the server started, from INFO commandstats. */
async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const line of (await redis.info('commandstats')).split('\r\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (match) calls.set(match[1].toUpperCase(), Number(match[2]));
  }
  return calls;
}


interface ModeTally {
  loads: number[];
  commands: Map<string, number>;
  latencies: number[];
  errors: number;
  lateBy: number;
}

async function fleetFlights(server: PrivateRedis, stats: Redis) {
  const rows: Record<string, string | number>[] = [];
  const summary: Record<string, string | number>[] = [];
  const seen = new Set<string>();
  const tallies: { k: number; distributed: boolean; tally: ModeTally }[] = [];
  for (const k of FLEET_SIZES) {
    const config: WorkerConfig = { redisUrl: server.url, namespace: `fleet-bench-${k}`, keyPrefix: `sf-fb${k}:`, loadMs: LOAD_MS };
    const workers = Array.from({ length: k }, () => new Worker(config));
    try {
      await Promise.all(workers.map((w) => w.ready));
      const tally = (): ModeTally => ({ loads: [], commands: new Map(), latencies: [], errors: 0, lateBy: 0 });
      const modes = { on: tally(), off: tally() };
      for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
        // Both modes in every round, alternating which goes first: noise falls on both alike.
        const order = round % 2 ? (['on', 'off'] as const) : (['off', 'on'] as const);
        for (const mode of order) {
          const key = `page:${randomUUID()}`; // cold
          const before = await commandCalls(stats);
          const at = Date.now() + 40;
          const reports = await Promise.all(workers.map((w) => w.burst(key, mode === 'on', at)));
          await sleep(100); // what the last caller's answer did not wait for (a PUBLISH) lands
          const after = await commandCalls(stats);
          if (round < WARMUP_ROUNDS) continue;
          const t = modes[mode];
          t.loads.push(reports.reduce((sum, r) => sum + r.loads, 0));
          for (const r of reports) {
            t.latencies.push(...r.latencies);
            t.errors += r.errors;
            t.lateBy = Math.max(t.lateBy, r.lateBy);
          }
          for (const [name, calls] of after) {
            if (name === 'INFO') continue; // this bench's own
            const delta = calls - (before.get(name) ?? 0);
            if (delta > 0) (seen.add(name), t.commands.set(name, (t.commands.get(name) ?? 0) + delta));
          }
        }
      }
      tallies.push({ k, distributed: false, tally: modes.off }, { k, distributed: true, tally: modes.on });
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
  }

  const order = ['GET', 'MGET', 'SET', 'EVAL', 'EVALSHA', 'PUBLISH'];
  const columns = [...order.filter((c) => seen.has(c)), ...[...seen].filter((c) => !order.includes(c)).sort()];
  const perBurst = (t: ModeTally, name: string) => (t.commands.get(name) ?? 0) / ROUNDS;
  const total = (t: ModeTally) => [...t.commands.values()].reduce((a, b) => a + b, 0) / ROUNDS;
  // commandstats also counts what a Lua script runs (redis.call): the lease scripts' GET and DEL
  // (or PEXPIRE). No client sends those here (entries are read with MGET), so they are not round trips.
  const inScripts = ['GET', 'DEL', 'PEXPIRE'];
  const roundTrips = (t: ModeTally) => total(t) - inScripts.reduce((sum, c) => sum + perBurst(t, c), 0);
  const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
  const p = (t: ModeTally) => {
    const sorted = [...t.latencies].sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1)! };
  };
  for (const { k, distributed, tally: t } of tallies) {
    const { p50, p99, max } = p(t);
    const minLoads = Math.min(...t.loads);
    const maxLoads = Math.max(...t.loads);
    rows.push({
      processes: k,
      distributed: distributed ? 'on' : 'off',
      callers: k * CALLERS,
      'loads/burst': minLoads === maxLoads ? minLoads : `${fmt(t.loads.reduce((a, b) => a + b, 0) / ROUNDS)} (${minLoads}-${maxLoads})`,
      ...Object.fromEntries(columns.map((c) => [c, fmt(perBurst(t, c))])),
      'cmds/burst': fmt(total(t)),
      'round trips': fmt(roundTrips(t)),
      'p50 ms': p50.toFixed(1),
      'p99 ms': p99.toFixed(1),
      'max ms': max.toFixed(1),
      errors: t.errors,
      'late start ms': t.lateBy,
    });
  }
  for (const k of FLEET_SIZES) {
    const off = tallies.find((t) => t.k === k && !t.distributed)!.tally;
    const on = tallies.find((t) => t.k === k && t.distributed)!.tally;
    const [pOff, pOn] = [p(off), p(on)];
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    summary.push({
      processes: k,
      'loads off → on': `${fmt(mean(off.loads))} → ${fmt(mean(on.loads))}`,
      'Redis cmds off → on': `${fmt(total(off))} → ${fmt(total(on))}`,
      'round trips off → on': `${fmt(roundTrips(off))} → ${fmt(roundTrips(on))}`,
      'p50 on/off': `${(pOn.p50 / pOff.p50).toFixed(2)}x`,
      'p99 on/off': `${(pOn.p99 / pOff.p99).toFixed(2)}x`,
    });
  }
  console.log(
    `\nCold-key bursts: ${CALLERS} concurrent callers per process, all processes released together; each load a ${LOAD_MS} ms query.` +
      `\n${ROUNDS} rounds per row (after ${WARMUP_ROUNDS} warm-up rounds), a fresh key each; Redis commands per burst from INFO commandstats of a private redis-server; latency per caller, all rounds pooled.`,
  );
  console.table(rows);
  console.log("GET, DEL, PEXPIRE: run inside the EVALs (commandstats counts a script's redis.call); round trips = cmds/burst without them.");
  console.log('distributed: true vs false, per fleet size');
  console.table(summary);
}

const page = incidentPage();

@Injectable()
class Pages {
  constructor(@Inject(CACHE_MANAGER) readonly cache: Cache) {}

  @Cached()
  @SingleFlight()
  async page(id: number) {
    return page;
  }

  @Cached({ freeze: true })
  @SingleFlight()
  async frozen(id: number) {
    return page;
  }
}

async function warmHits(server: PrivateRedis) {
  const redis = { redis: server.url, ttl: 600_000 };
  // The same Keyv namespace for both: the decorators' entries have the same key, their own store connections.
  const remote = await benchApp([Pages], [redisKeyv('warm-bench', server.url)], redis);
  const local = await benchApp([Pages], [redisKeyv('warm-bench', server.url)], { ...redis, local: { max: 1_000 } });
  const bento = new BentoCache({
    default: 'copies',
    stores: {
      // The memory driver's default: entries serialized (JSON), each hit parses a copy of its own.
      copies: bentostore()
        .useL1Layer(memoryDriver({ maxItems: 1_000 }))
        .useL2Layer(redisDriver({ connection: { host: '127.0.0.1', port: server.port } }))
        .useBus(redisBusDriver({ connection: { host: '127.0.0.1', port: server.port } })),
      // serialize: false: every hit gets the same object (not frozen).
      shared: bentostore()
        .useL1Layer(memoryDriver({ maxItems: 1_000, serialize: false }))
        .useL2Layer(redisDriver({ connection: { host: '127.0.0.1', port: server.port } }))
        .useBus(redisBusDriver({ connection: { host: '127.0.0.1', port: server.port } })),
    },
  });
  try {
    // The local tier trusts its entries only while its bus is subscribed.
    for (let waited = 0; !local.get(CachedExecutor).fleet?.bus.connected; waited += 20) {
      if (waited > 10_000) throw new Error('local tier bus not subscribed after 10 s');
      await sleep(20);
    }
    const [remotePages, localPages] = [remote.get(Pages), local.get(Pages)];
    const cache = remotePages.cache;
    await cache.set('plain-page', page, 600_000);
    const bentoCopies = bento.use('copies');
    const bentoShared = bento.use('shared');
    const bentoGet = (store: typeof bentoCopies) => store.getOrSet({ key: 'page', ttl: '10m', factory: () => page });
    // Primed: the entry written once, every later call a warm hit.
    await Promise.all([remotePages.page(1), remotePages.frozen(1)]);
    await Promise.all([localPages.page(1), localPages.frozen(1), bentoGet(bentoCopies), bentoGet(bentoShared)]);
    const checks = [await cache.get('plain-page'), await remotePages.page(1), await localPages.page(1), await localPages.frozen(1), await bentoGet(bentoCopies), await bentoGet(bentoShared)];
    if (!checks.every((v) => (v as { items?: unknown[] })?.items?.length === 20)) throw new Error('a warm read did not return the page');

    const bench = new Bench({ time: 1_000, warmupTime: 200 });
    bench
      .add('plain cache.get of the entry from Redis (baseline)', () => cache.get('plain-page'))
      .add('@Cached + @SingleFlight, no local tier (Redis)', () => remotePages.page(1))
      .add('… + local: { max: 1000 }, copy mode', () => localPages.page(1))
      .add('… + local: { max: 1000 }, freeze: true', () => localPages.frozen(1))
      .add('bentocache getOrSet, L1 memory (default: serialized, a JSON copy per hit) + L2 Redis + bus', () => bentoGet(bentoCopies))
      .add('bentocache getOrSet, L1 memory (serialize: false, one shared object) + L2 Redis + bus', () => bentoGet(bentoShared));
    await bench.run();
    const rate = (i: number) => {
      const result = bench.tasks[i].result as { period: number };
      return 1000 / result.period;
    };
    console.log('\nWarm hits of one cached 20-row page, sequential, one process; Redis is a private redis-server on 127.0.0.1');
    console.table(
      bench.tasks.map((task, i) => {
        const { latency } = task.result as { latency: { mean: number; rme?: number } };
        return {
          case: task.name,
          'hits/s': Math.round(rate(i)).toLocaleString('en-US'),
          'µs/hit': (latency.mean * 1000).toFixed(2),
          '± %': latency.rme?.toFixed(1) ?? '',
          'vs Redis get': `${(rate(i) / rate(0)).toFixed(1)}x`,
        };
      }),
    );
    console.table([
      { ratio: 'local freeze hit vs plain Redis get (target >= 20x)', value: `${(rate(3) / rate(0)).toFixed(1)}x` },
      { ratio: 'local freeze hit vs bentocache L1, serialize: false (both: one shared object)', value: `${(rate(3) / rate(5)).toFixed(2)}x` },
      { ratio: 'local freeze hit vs bentocache L1, default (a copy per hit)', value: `${(rate(3) / rate(4)).toFixed(2)}x` },
      { ratio: 'local copy hit vs bentocache L1, default (both: a copy per hit; bentocache loses the Dates)', value: `${(rate(2) / rate(4)).toFixed(2)}x` },
    ]);
  } finally {
    await Promise.all([remote.close(), local.close(), bento.disconnectAll()]);
  }
}

if (!REDIS_BIN) {
  console.log('No redis-server on the PATH (or REDIS_SERVER_BIN): bench:fleet needs a private one, skipped');
} else {
  const dir = mkdtempSync(join(tmpdir(), 'sf-fleet-bench-'));
  const server = new PrivateRedis(await freePort(), join(dir, 'data'), join(dir, 'redis.log'));
  let stats: Redis | undefined;
  try {
    await server.start({ persist: false });
    stats = new Redis(server.url, { maxRetriesPerRequest: 1 });
    await fleetFlights(server, stats);
    await warmHits(server);
  } finally {
    await stats?.quit().catch(() => undefined);
    await server.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
