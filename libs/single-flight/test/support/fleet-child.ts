// One Nest application in its own process, on the real Redis, driven by a test over IPC.
// Started by fleet.ts: node --import @swc-node/register/esm-register fleet-child.ts, config in FLEET_CONFIG.
import 'reflect-metadata';
import { CACHE_MANAGER, CacheModule } from '@nestjs/cache-manager';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Cache } from 'cache-manager';
import { Redis } from 'ioredis';
import { Keyv } from 'keyv';
import { CacheEvict, Cached, SingleFlight, SingleFlightModule, type SingleFlightModuleOptions } from '@app/single-flight';

export interface FleetConfig {
  namespace: string;
  layout: 'redis' | 'memory+redis';
  keyPrefix?: string;
  moduleOptions?: Record<string, unknown>;
  redisUrl: string;
}

export interface Item {
  key: string;
  version: number;
  loadId: number;
}
export type LoadEvent = Item;

export type FleetCommand =
  | { command: 'call'; key: string }
  | { command: 'update'; key: string }
  | { command: 'hold'; on: boolean }
  | { command: 'release'; loadId: number | 'all' }
  | { command: 'expire'; key: string }
  | { command: 'stats' }
  | { command: 'close' };

/** What each command answers with. */
export interface FleetAnswers {
  call: { started: number };
  update: { started: number };
  hold: null;
  release: { released: number };
  expire: { cacheKey: string };
  stats: { loads: number; calls: number };
  close: null;
}

export type FleetRequest = FleetCommand & { id: number };
export type FleetReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; message: string };
export type FleetEvent =
  | { event: 'ready' }
  | { event: 'fatal'; message: string }
  | ({ event: 'load' } & LoadEvent)
  | { event: 'result'; callId: number; value: Item }
  | { event: 'updated'; updateId: number; version: number }
  | { event: 'error'; callId: number; message: string }
  | { event: 'error'; updateId: number; message: string };

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

const db = new Redis(config.redisUrl, { maxRetriesPerRequest: 1 });
const dbKey = (key: string) => `${config.namespace}:db:${key}`;

let loads = 0;
let calls = 0;
let updates = 0;
let holding = false;
const held = new Map<number, () => void>();

@Injectable()
class Items {
  @Cached({ ttl: 60_000, tags: (key: string) => [`item:${key}`] })
  @SingleFlight()
  async get(key: string): Promise<Item> {
    const version = Number((await db.get(dbKey(key))) ?? 0);
    const loadId = ++loads;
    send({ event: 'load', loadId, key, version });
    if (holding) await new Promise<void>((resolve) => held.set(loadId, resolve));
    return { key, version, loadId };
  }

  @CacheEvict({ tags: (_result: number, key: string) => [`item:${key}`] })
  async update(key: string): Promise<number> {
    return db.incr(dbKey(key));
  }
}

const moduleOptions = {
  ttl: 60_000,
  ...(config.keyPrefix === undefined ? {} : { keyPrefix: config.keyPrefix }),
  ...config.moduleOptions,
} as SingleFlightModuleOptions;
// Both tiers under one Keyv namespace, so an entry has the same full key in each.
const stores = config.layout === 'memory+redis' ? [new Keyv({ namespace: config.namespace }), redisKeyv(config.namespace)] : [redisKeyv(config.namespace)];

@Module({
  imports: [CacheModule.register({ isGlobal: true, stores }), SingleFlightModule.forRoot(moduleOptions)],
  providers: [Items],
})
class FleetModule {}

// abortOnError: false, so a failed start reaches the parent as a message, not only as exit code 1.
const app = await NestFactory.createApplicationContext(FleetModule, { logger: ['error'], abortOnError: false }).catch((error: unknown) => {
  send({ event: 'fatal', message: messageOf(error) }, () => process.exit(1));
  return new Promise<never>(() => {});
});
const items = app.get(Items);
const cache = app.get<Cache>(CACHE_MANAGER);

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
      return { loads, calls };
    case 'close':
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
