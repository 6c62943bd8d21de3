// One Nest application in its own process, on the real Redis, driven by a test over IPC.
// Started by fleet.ts: node --import @swc-node/register/esm-register fleet-child.ts, config in FLEET_CONFIG.
import 'reflect-metadata';
import { CACHE_MANAGER, CacheModule } from '@nestjs/cache-manager';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Cache } from 'cache-manager';
import { Redis } from 'ioredis';
import { Keyv } from 'keyv';
import { setImmediate as yieldToIo, setTimeout as sleep } from 'node:timers/promises';
import { CacheEvict, Cached, SingleFlight, SingleFlightModule, type SingleFlightModuleOptions } from '@app/single-flight';
import { CachedExecutor } from '../../src/cached-executor.js';

export interface FleetConfig {
  namespace: string;
  layout: 'redis' | 'memory+redis';
  keyPrefix?: string;
  moduleOptions?: Record<string, unknown>;
  /** The cache store's Redis. */
  redisUrl: string;
  /** The loader's "database" (version counters); default: redisUrl. Lets the cache run on a server a test kills. */
  dbUrl?: string;
}

/** How the loader behaves, for every load from now on (the 'loader' command). */
export interface LoaderSettings {
  /** A load takes this long (ms) after it read its version. */
  delayMs?: number;
  /** The first load of a key in the whole fleet (counted in the database) never ends: its process is to be killed. */
  hangFirst?: boolean;
}

/**
 * `get`: Items.get (@SingleFlight(), distributed as the module says); `build`: Reports.build,
 * @SingleFlight({ distributed: true }); `revalidated`: Reports.revalidated, the same with a 1 s
 * ttl and a minute of staleWhileRevalidate (children with `redis` only).
 */
export type FleetMethod = 'get' | 'build' | 'revalidated';

/** What a burst of calls returned: how many of each distinct value, and the failures. */
export interface BurstOutcome {
  calls: number;
  values: { value: Item; count: number }[];
  failures: string[];
}

/** Per version read by a read loop: how many reads returned it, and when (host clock, ms) the first and the last of them started. */
export interface ReadLoopOutcome {
  reads: number;
  /** [version, reads, firstStart, lastStart] */
  versions: [number, number, number, number][];
  failures: string[];
  /** Reads made while the bus was not connected (its local tier bypassed). */
  busDownReads: number;
}

/** When (host clock, ms) each update of an evict loop resolved, and the version it wrote. */
export interface EvictLoopOutcome {
  resolvedAt: number[];
  versions: number[];
}

export interface Item {
  key: string;
  version: number;
  loadId: number;
}
export type LoadEvent = Item;
/** A fleet-wide flight asking for its lease (SET NX): `taken`, or refused (another process holds it: this one waits). */
export interface LeaseEvent {
  lease: string;
  taken: boolean;
}

export type FleetCommand =
  | { command: 'call'; key: string }
  | { command: 'update'; key: string }
  | { command: 'hold'; on: boolean }
  | { command: 'release'; loadId: number | 'all' }
  | { command: 'expire'; key: string }
  | { command: 'stats' }
  | { command: 'close' }
  | { command: 'loader'; settings: LoaderSettings }
  | { command: 'burst'; method?: FleetMethod; keys: string[]; count: number; spreadMs?: number }
  | { command: 'readLoop'; method?: FleetMethod; key: string }
  | { command: 'stopReadLoop'; untilVersion?: number; timeoutMs?: number }
  | { command: 'evictLoop'; key: string; count: number; gapMs: number }
  | { command: 'status' };

/** What each command answers with. */
export interface FleetAnswers {
  call: { started: number };
  update: { started: number };
  hold: null;
  release: { released: number };
  expire: { cacheKey: string };
  stats: { loads: number; calls: number; entryWrites: number };
  close: null;
  loader: null;
  burst: { job: number };
  readLoop: null;
  stopReadLoop: ReadLoopOutcome;
  evictLoop: { job: number };
  status: { busConnected?: boolean; linkReady?: boolean; localSize?: number };
}

/** What each job (a command that answers at once and reports its outcome later, as a 'job' event) ends with. */
export interface FleetJobOutcomes {
  burst: BurstOutcome;
  evictLoop: EvictLoopOutcome;
}

export type FleetRequest = FleetCommand & { id: number };
export type FleetReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; message: string };
export type FleetEvent =
  | { event: 'ready' }
  | { event: 'fatal'; message: string }
  | ({ event: 'load' } & LoadEvent)
  | ({ event: 'lease' } & LeaseEvent)
  | { event: 'result'; callId: number; value: Item }
  | { event: 'updated'; updateId: number; version: number }
  | { event: 'error'; callId: number; message: string }
  | { event: 'error'; updateId: number; message: string }
  | { event: 'job'; job: number; ok: true; value: unknown }
  | { event: 'job'; job: number; ok: false; message: string };

if (!process.send) throw new Error('fleet-child needs an IPC channel: start it with startFleetProcess() from fleet.ts');
const config = JSON.parse(process.env.FLEET_CONFIG ?? 'null') as FleetConfig | null;
if (!config?.namespace || !config.redisUrl) throw new Error('fleet-child: FLEET_CONFIG must hold { namespace, layout, redisUrl }');

const send = (message: FleetReply | FleetEvent, then: () => void = () => {}) => {
  if (process.connected) process.send!(message, then);
};
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

// An orphan would keep its Redis connections and run forever: leave with the parent.
process.on('disconnect', () => process.exit(0));

// redis-cache.ts reads REDIS_URL as it loads: point it at the configured server first.
process.env.REDIS_URL = config.redisUrl;
const { redisKeyv } = await import('./redis-cache.js');

const db = new Redis(config.dbUrl ?? config.redisUrl, { maxRetriesPerRequest: 1 });
const dbKey = (key: string) => `${config.namespace}:db:${key}`;
/** The host's clock, comparable between processes: ms since the epoch, sub-ms resolution. */
const now = () => performance.timeOrigin + performance.now();

let loads = 0;
let calls = 0;
let updates = 0;
let entryWrites = 0;
let jobs = 0;
let holding = false;
let loader: LoaderSettings = {};
const held = new Map<number, () => void>();

async function load(key: string): Promise<Item> {
  const version = Number((await db.get(dbKey(key))) ?? 0);
  // Counted in the database: which load of this key it is in the whole fleet.
  const nth = loader.hangFirst ? await db.incr(dbKey(`loads:${key}`)) : 0;
  const loadId = ++loads;
  send({ event: 'load', loadId, key, version });
  if (nth === 1) await new Promise<never>(() => {});
  if (loader.delayMs) await sleep(loader.delayMs);
  if (holding) await new Promise<void>((resolve) => held.set(loadId, resolve));
  return { key, version, loadId };
}

@Injectable()
class Items {
  @Cached({ ttl: 60_000, tags: (key: string) => [`item:${key}`] })
  @SingleFlight()
  async get(key: string): Promise<Item> {
    return load(key);
  }

  @CacheEvict({ tags: (_result: number, key: string) => [`item:${key}`] })
  async update(key: string): Promise<number> {
    return db.incr(dbKey(key));
  }
}

@Injectable()
class Reports {
  @Cached({ ttl: 60_000, tags: (key: string) => [`item:${key}`] })
  @SingleFlight({ distributed: true })
  async build(key: string): Promise<Item> {
    return load(key);
  }

  @Cached({ ttl: 1_000, staleWhileRevalidate: 60_000, tags: (key: string) => [`item:${key}`] })
  @SingleFlight({ distributed: true })
  async revalidated(key: string): Promise<Item> {
    return load(key);
  }
}

const moduleOptions = {
  ttl: 60_000,
  ...(config.keyPrefix === undefined ? {} : { keyPrefix: config.keyPrefix }),
  ...config.moduleOptions,
} as SingleFlightModuleOptions;
// Both tiers under one Keyv namespace, so an entry has the same full key in each.
const stores = config.layout === 'memory+redis' ? [new Keyv({ namespace: config.namespace }), redisKeyv(config.namespace)] : [redisKeyv(config.namespace)];
// Entry writes to the shared store, counted: the library writes entries with set(), tag tokens under `#tag:`.
const shared = stores.at(-1)!;
const set = shared.set.bind(shared);
shared.set = ((key: string, value: unknown, ttl?: number) => (key.includes('#tag:') || entryWrites++, set(key, value, ttl))) as typeof shared.set;

@Module({
  imports: [CacheModule.register({ isGlobal: true, stores }), SingleFlightModule.forRoot(moduleOptions)],
  // Reports has a distributed method, which needs the module's redis.
  providers: moduleOptions.redis ? [Items, Reports] : [Items],
})
class FleetModule {}

// abortOnError: false, so a failed start reaches the parent as a message, not only as exit code 1.
const app = await NestFactory.createApplicationContext(FleetModule, { logger: ['error'], abortOnError: false }).catch((error: unknown) => {
  send({ event: 'fatal', message: messageOf(error) }, () => process.exit(1));
  return new Promise<never>(() => {});
});
const items = app.get(Items);
const reports = moduleOptions.redis ? app.get(Reports) : undefined;
const cache = app.get<Cache>(CACHE_MANAGER);
const executor = app.get(CachedExecutor);

// Lease requests (SET key token PX ms NX on the module's command connection), reported as they are answered.
if (executor.fleet) {
  const { commands } = executor.fleet.link;
  const set = commands.set.bind(commands) as (...args: unknown[]) => Promise<unknown>;
  Object.assign(commands, {
    set: (...args: unknown[]) => {
      const answer = set(...args);
      if (args.includes('NX')) answer.then((reply) => send({ event: 'lease', lease: String(args[0]), taken: reply === 'OK' }), () => undefined);
      return answer;
    },
  });
}

function method(name: FleetMethod = 'get'): (key: string) => Promise<Item> {
  if (name === 'get') return (key) => items.get(key);
  if (!reports) throw new Error(`'${name}' needs the module's redis`);
  return name === 'build' ? (key) => reports.build(key) : (key) => reports.revalidated(key);
}

/** Runs `work` in the background; its outcome is reported as a 'job' event. */
function job(work: () => Promise<unknown>): { job: number } {
  const id = ++jobs;
  work().then(
    (value) => send({ event: 'job', job: id, ok: true, value }),
    (error: unknown) => send({ event: 'job', job: id, ok: false, message: messageOf(error) }),
  );
  return { job: id };
}

/** `count` calls per key, all started in this turn (or spread evenly over `spreadMs`). */
async function burst(call: (key: string) => Promise<Item>, keys: string[], count: number, spreadMs: number): Promise<BurstOutcome> {
  const values = new Map<string, { value: Item; count: number }>();
  const failures: string[] = [];
  const settled: Promise<void>[] = [];
  const record = (key: string) => call(key).then(
    (value) => {
      const text = JSON.stringify(value);
      const seen = values.get(text);
      if (seen) seen.count++;
      else values.set(text, { value, count: 1 });
    },
    (error: unknown) => void failures.push(`${key}: ${messageOf(error)}`),
  );
  for (let i = 0; i < count; i++) {
    if (spreadMs > 0 && i > 0) await sleep(spreadMs / count);
    for (const key of keys) settled.push(record(key));
  }
  await Promise.all(settled);
  return { calls: settled.length, values: [...values.values()], failures };
}

/** The running read loop: it stops once `stop` is set and it has read `untilVersion` (or `deadline` passed). */
interface Reading {
  stop?: { untilVersion: number; deadline: number };
  done: Promise<ReadLoopOutcome>;
}
let reading: Reading | undefined;

async function readLoop(call: (key: string) => Promise<Item>, key: string): Promise<ReadLoopOutcome> {
  const versions = new Map<number, [number, number, number, number]>();
  const failures: string[] = [];
  let reads = 0;
  let busDownReads = 0;
  let latest = -1;
  for (;;) {
    const stop = reading?.stop;
    if (stop && (latest >= stop.untilVersion || now() > stop.deadline)) break;
    const startedAt = now();
    if (executor.fleet && !executor.fleet.bus.connected) busDownReads++;
    try {
      const { version } = await call(key);
      reads++;
      latest = Math.max(latest, version);
      const seen = versions.get(version);
      if (seen) {
        seen[1]++;
        seen[3] = Math.max(seen[3], startedAt);
      } else versions.set(version, [version, 1, startedAt, startedAt]);
    } catch (error) {
      if (failures.length < 10) failures.push(messageOf(error));
    }
    // A local hit resolves without I/O: without this the loop would never let the bus's messages in.
    await yieldToIo();
  }
  return { reads, versions: [...versions.values()].sort((x, y) => x[0] - y[0]), failures, busDownReads };
}

/** `count` updates of `key` one after another, `gapMs` apart; when each resolved. */
async function evictLoop(key: string, count: number, gapMs: number): Promise<EvictLoopOutcome> {
  const resolvedAt: number[] = [];
  const versions: number[] = [];
  for (let i = 0; i < count; i++) {
    versions.push(await items.update(key));
    resolvedAt.push(now());
    if (gapMs > 0) await sleep(gapMs);
  }
  return { resolvedAt, versions };
}

// call and update start the method synchronously, on receipt, and report its outcome as an event.
async function handle(request: FleetCommand): Promise<FleetAnswers[FleetCommand['command']]> {
  switch (request.command) {
    case 'call': {
      const callId = ++calls;
      items.get(request.key).then(
        (value) => send({ event: 'result', callId, value }),
        (error: unknown) => send({ event: 'error', callId, message: messageOf(error) }),
      );
      return { started: callId };
    }
    case 'update': {
      const updateId = ++updates;
      items.update(request.key).then(
        (version) => send({ event: 'updated', updateId, version }),
        (error: unknown) => send({ event: 'error', updateId, message: messageOf(error) }),
      );
      return { started: updateId };
    }
    case 'hold':
      holding = request.on;
      return null;
    case 'release': {
      const ids = request.loadId === 'all' ? [...held.keys()] : [request.loadId];
      for (const id of ids) {
        const release = held.get(id);
        if (!release) throw new Error(`load ${id} is not held (held: ${[...held.keys()].join(', ') || 'none'})`);
        held.delete(id);
        release();
      }
      return { released: ids.length };
    }
    case 'expire': {
      // The documented key: keyPrefix + Class.method + ':' + canonical(args), a string being JSON-quoted.
      const cacheKey = `${moduleOptions.keyPrefix ?? 'sf:'}Items.get:${JSON.stringify([request.key])}`;
      await cache.del(cacheKey);
      return { cacheKey };
    }
    case 'stats':
      return { loads, calls, entryWrites };
    case 'loader':
      loader = request.settings;
      return null;
    case 'burst':
      return job(() => burst(method(request.method), request.keys, request.count, request.spreadMs ?? 0));
    case 'readLoop': {
      if (reading) throw new Error('a read loop is running already');
      const call = method(request.method);
      const loop: Reading = { done: undefined! };
      reading = loop;
      loop.done = readLoop(call, request.key);
      return null;
    }
    case 'stopReadLoop': {
      if (!reading) throw new Error('no read loop is running');
      reading.stop = { untilVersion: request.untilVersion ?? -1, deadline: now() + (request.timeoutMs ?? 5_000) };
      const outcome = await reading.done;
      reading = undefined;
      return outcome;
    }
    case 'evictLoop':
      return job(() => evictLoop(request.key, request.count, request.gapMs));
    case 'status':
      return { busConnected: executor.fleet?.bus.connected, linkReady: executor.fleet?.link.ready, localSize: executor.local?.size };
    case 'close':
      if (reading) {
        reading.stop = { untilVersion: -1, deadline: 0 };
        await reading.done;
      }
      await app.close();
      await db.quit();
      return null;
  }
}

process.on('message', (request: FleetRequest) => {
  handle(request).then(
    (value) => send({ id: request.id, ok: true, value }, request.command === 'close' ? () => process.exit(0) : undefined),
    (error: unknown) => send({ id: request.id, ok: false, message: messageOf(error) }),
  );
});
send({ event: 'ready' });
