import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { Cache } from 'cache-manager';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { CacheEvict, Cached, SingleFlight, SingleFlightConfigError, type SingleFlightModuleOptions } from '@app/single-flight';
import { CachedExecutor } from '../src/cached-executor.js';
import { BUS_HEARTBEAT } from '../src/fleet-bus.js';
import { countStoreTrips } from './support/count-calls.js';
import { latch, settle, until, type Latch } from './support/latch.js';
import { REDIS_URL } from './support/redis-cache.js';
import { trackedRedisKeyv } from './support/tracked-redis.js';
import { createTestApp } from './support/test-app.js';

// Two application instances in one test process, each with its own Redis connections, bus and
// local tier, sharing the real Redis: what two processes share, without the process boundary
// (fleet-local-tier.spec.ts does the same across processes).
const versions = new Map<string, number>();
let loads = 0;
let gate: Latch | undefined;

@Injectable()
class Items {
  @Cached({ ttl: 60_000, tags: (id: string) => [`item:${id}`] })
  @SingleFlight()
  async get(id: string) {
    loads++;
    await gate?.promise;
    return { id, version: versions.get(id) ?? 0, at: new Date(0) };
  }

  @Cached({ ttl: 60_000, tags: (id: string) => [`item:${id}`], freeze: true })
  @SingleFlight()
  async frozen(id: string) {
    loads++;
    return { id, version: versions.get(id) ?? 0 };
  }

  @Cached({ ttl: 60_000, local: false })
  @SingleFlight()
  async notLocal(id: string) {
    loads++;
    return { id };
  }

  @CacheEvict({ tags: (_result: number, id: string) => [`item:${id}`] })
  async update(id: string) {
    const next = (versions.get(id) ?? 0) + 1;
    versions.set(id, next);
    return next;
  }
}

describe('local tier and invalidation bus (two instances, the real Redis)', () => {
  const namespace = `sf-local-${randomUUID()}`;
  const keyPrefix = `sf-local-${randomUUID().slice(0, 8)}:`;
  const cleanups: (() => Promise<void>)[] = [];
  const apps: TestingModule[] = [];

  const instance = async (options: SingleFlightModuleOptions = {}) => {
    const { keyv, cleanup } = trackedRedisKeyv(namespace);
    cleanups.push(cleanup);
    const app = await createTestApp([Items], { stores: [keyv], options: { keyPrefix, redis: REDIS_URL, local: { max: 1_000 }, ...options } });
    apps.push(app);
    const executor = app.get(CachedExecutor);
    await until(() => executor.fleet?.bus.connected === true);
    return { app, items: app.get(Items), trips: countStoreTrips(app.get<Cache>(CACHE_MANAGER) as never), executor };
  };

  afterEach(async () => {
    gate = undefined;
    await Promise.all(apps.splice(0).map((app) => app.close()));
    await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
    const redis = new Redis(REDIS_URL);
    await redis.del(...[...versions.keys()].map((id) => `${keyPrefix}#tag:item:${id}`)).catch(() => undefined);
    await redis.quit();
  });

  it('a warm hit comes from the local tier: no store round trip, no load', async () => {
    const a = await instance();
    const first = await a.items.get('warm');
    const { reads } = a.trips;
    const before = loads;
    for (let i = 0; i < 100; i++) expect(await a.items.get('warm')).toEqual(first);
    expect(a.trips.reads).toBe(reads);
    expect(loads).toBe(before);
  });

  it('copies by default: every local hit is a value of its own; freeze: one frozen value', async () => {
    const a = await instance();
    const one = await a.items.get('copies');
    const two = await a.items.get('copies');
    const three = await a.items.get('copies');
    expect(two).toEqual(one);
    expect(two).not.toBe(three);
    two.version = 99;
    expect((await a.items.get('copies')).version).toBe(one.version);
    expect(three.at).toBeInstanceOf(Date);

    await a.items.frozen('frozen');
    const f1 = await a.items.frozen('frozen');
    expect(await a.items.frozen('frozen')).toBe(f1);
    expect(Object.isFrozen(f1)).toBe(true);
  });

  it('@Cached({ local: false }) reads the shared store every time', async () => {
    const a = await instance();
    await a.items.notLocal('shared-only');
    const { reads } = a.trips;
    await a.items.notLocal('shared-only');
    expect(a.trips.reads).toBe(reads + 1);
  });

  it('an eviction in this instance is seen by its next call at once', async () => {
    const a = await instance();
    expect((await a.items.get('own')).version).toBe(0);
    await a.items.update('own');
    expect((await a.items.get('own')).version).toBe(1);
  });

  it('an eviction in another instance drops the entry here once the bus delivers it, and nothing reads stale after', async () => {
    const a = await instance();
    const b = await instance();
    expect((await b.items.get('remote')).version).toBe(0);
    expect((await b.items.get('remote')).version).toBe(0); // local hit in B
    await a.items.update('remote');
    // The bus is asynchronous: B's reads return the new version once its message arrived (bounded wait).
    let seen = 0;
    const deadline = Date.now() + 2_000;
    while (seen === 0 && Date.now() < deadline) {
      seen = (await b.items.get('remote')).version;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(seen).toBe(1);
    for (let i = 0; i < 20; i++) expect((await b.items.get('remote')).version).toBe(1);
  });

  it('a value read before an eviction resolved is never kept locally, even if its read finishes after', async () => {
    const a = await instance();
    const b = await instance();
    gate = latch();
    const inFlight = b.items.get('racing');
    await until(() => loads > 0 && b.executor.local !== undefined);
    await settle();
    await a.items.update('racing');
    gate.release();
    // The load began before the eviction: its callers may get it, but it was not kept.
    await inFlight;
    gate = undefined;
    expect((await b.items.get('racing')).version).toBe(1);
  });

  it('while the bus is down, the local tier is cleared and bypassed; once resubscribed, it is used again', async () => {
    const b = await instance();
    await b.items.get('outage');
    const bus = b.executor.fleet!.bus;
    const reconnected = new Promise<void>((resolve) => b.executor.fleet!.link.subscriber.once('ready', () => resolve()));
    // A dropped connection, as a network failure would: ioredis reconnects by itself.
    b.executor.fleet!.link.subscriber.stream.destroy();
    await until(() => !bus.connected);
    expect(b.executor.local!.size).toBe(0);
    const reads = b.trips.reads;
    await b.items.get('outage');
    await b.items.get('outage');
    expect(b.trips.reads).toBe(reads + 2);
    await reconnected;
    await until(() => bus.connected);
    await b.items.get('outage');
    const after = b.trips.reads;
    await b.items.get('outage');
    expect(b.trips.reads).toBe(after);
  });

  it('a stalled subscription (open, but silent) is found by its heartbeat: the local tier is bypassed, and used again once resubscribed', async () => {
    const a = await instance();
    const b = await instance();
    expect((await b.items.get('stalled')).version).toBe(0);
    expect((await b.items.get('stalled')).version).toBe(0); // local hit in B
    const bus = b.executor.fleet!.bus;
    // B's subscription stops delivering without closing: nothing tells ioredis, only the heartbeat can.
    b.executor.fleet!.link.subscriber.stream.pause();
    await a.items.update('stalled');
    await until(() => !bus.connected, BUS_HEARTBEAT + 2_000);
    expect((await b.items.get('stalled')).version).toBe(1);
    await until(() => bus.connected);
    await b.items.get('stalled'); // kept again: the local tier was cleared when the subscription came back
    const reads = b.trips.reads;
    expect((await b.items.get('stalled')).version).toBe(1);
    expect(b.trips.reads).toBe(reads);
  });

  it('a heartbeat PING answered while this process\'s event loop was blocked past storeTimeout counts as answered (no false alarm)', async () => {
    const b = await instance({ storeTimeout: 100 });
    const link = b.executor.fleet!.link;
    // A long synchronous task in a timer callback: when it ends, the reply and the deadline are
    // both due. Node 20's event loop (libuv 1.45+) reads I/O before it runs timers, so the reply
    // wins; this test keeps it that way.
    const answered = await new Promise<Promise<boolean>>((started) =>
      setTimeout(() => {
        const answer = link.subscriptionAnswers();
        const blockedUntil = Date.now() + 300;
        while (Date.now() < blockedUntil);
        started(answer);
      }, 0),
    );
    expect(await answered).toBe(true);
    expect(b.executor.fleet!.bus.connected).toBe(true);
  });

  it('forRootAsync takes `redis` and `local` too: an eviction made by a forRoot instance reaches its local tier', async () => {
    const { CacheModule } = await import('@nestjs/cache-manager');
    const { Test } = await import('@nestjs/testing');
    const { SingleFlightModule } = await import('@app/single-flight');
    const { keyv, cleanup } = trackedRedisKeyv(namespace);
    cleanups.push(cleanup);
    const b = await Test.createTestingModule({
      imports: [
        CacheModule.register({ isGlobal: true, stores: [keyv] }),
        SingleFlightModule.forRootAsync({ useFactory: async () => ({ keyPrefix, redis: REDIS_URL, local: { max: 1_000 } }) }),
      ],
      providers: [Items],
    }).compile();
    await b.init();
    apps.push(b);
    await until(() => b.get(CachedExecutor).fleet?.bus.connected === true);
    const a = await instance();
    const items = b.get(Items);
    expect((await items.get('async')).version).toBe(0);
    expect(b.get(CachedExecutor).local!.size).toBe(1);
    await a.items.update('async');
    // As for a forRoot instance: B's reads see the new version once the bus delivered the eviction (bounded wait).
    let seen = 0;
    const deadline = Date.now() + 2_000;
    while (seen === 0 && Date.now() < deadline) {
      seen = (await items.get('async')).version;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(seen).toBe(1);
  });

  it('without a bus, local.ttl is the staleness bound: default 1 s, more than 10 s refused at start', async () => {
    await expect(createTestApp([Items], { options: { local: { max: 10, ttl: 60_000 } } })).rejects.toThrow(/local\.ttl 60000 ms without "redis".*at most 10000 ms/);
    const app = await createTestApp([Items], { options: { local: { max: 10 } } });
    apps.push(app);
    expect(app.get(CachedExecutor).settings.local?.ttl).toBe(1_000);
  });
});

describe('local tier and fleet options are checked at start', () => {
  @Injectable()
  class WantsLocal {
    @Cached({ local: true })
    async get() {
      return 1;
    }
  }
  @Injectable()
  class DistributedWithoutCache {
    @SingleFlight({ distributed: true })
    async get() {
      return 1;
    }
  }

  it('@Cached({ local: true }) without the module local tier', async () => {
    await expect(createTestApp([WantsLocal])).rejects.toThrow(new SingleFlightConfigError(`WantsLocal.get: @Cached({ local: true }) needs the module's local tier: SingleFlightModule.forRoot({ local: { max: 10_000 } })`));
  });

  it('@SingleFlight({ distributed: true }) without redis, and without @Cached', async () => {
    await expect(createTestApp([DistributedWithoutCache])).rejects.toThrow(/DistributedWithoutCache\.get: @SingleFlight\(\{ distributed: true \}\) needs the module's "redis"/);
    await expect(createTestApp([DistributedWithoutCache], { options: { redis: REDIS_URL } })).rejects.toThrow(/DistributedWithoutCache\.get: @SingleFlight\(\{ distributed: true \}\) needs @Cached\(\)/);
  });

  it('bad module options name the option', async () => {
    await expect(createTestApp([], { options: { local: { max: 0 } } })).rejects.toThrow(/local: option "max" must be a positive integer/);
    await expect(createTestApp([], { options: { local: {} as never } })).rejects.toThrow(/option "local" needs "max"/);
    await expect(createTestApp([], { options: { redis: 'localhost:6379' } })).rejects.toThrow(/option "redis" must be an ioredis client or a redis:\/\//);
    await expect(createTestApp([], { options: { distributed: true } })).rejects.toThrow(/option "distributed" needs "redis"/);
  });
});
