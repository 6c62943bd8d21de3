import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { Cache } from 'cache-manager';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheEvict, Cached, SingleFlight, SingleFlightStats, type SingleFlightModuleOptions } from '@app/single-flight';
import { CachedExecutor } from '../src/cached-executor.js';
import { countStoreTrips } from './support/count-calls.js';
import { latch, until, type Latch } from './support/latch.js';
import { freePort, PrivateRedis, REDIS_BIN } from './support/private-redis.js';
import { REDIS_URL, redisKeyv } from './support/redis-cache.js';
import { trackedRedisKeyv } from './support/tracked-redis.js';
import { createTestApp } from './support/test-app.js';

// Fleet-wide flights between two application instances in one test process, each with its own
// Redis connections, on the real Redis. The multi-process version is fleet-processes.spec.ts.
let loads: string[] = [];
let gate: Latch | undefined;
let failNext = false;
let versions = 0;

@Injectable()
class Reports {
  @Cached({ ttl: 60_000 })
  @SingleFlight({ distributed: true })
  async build(id: string) {
    loads.push(id);
    await gate?.promise;
    if (failNext) {
      failNext = false;
      throw new Error('database down');
    }
    return { id, rows: [1, 2, 3] };
  }

  /** Each load reads the next version of the report. */
  @Cached({ ttl: 60_000, tags: (id: string) => [`report:${id}`] })
  @SingleFlight({ distributed: true })
  async versioned(id: string) {
    loads.push(id);
    const version = ++versions;
    await gate?.promise;
    return { id, version };
  }

  @CacheEvict({ tags: (_result: void, id: string) => [`report:${id}`] })
  async change(_id: string) {}

  @Cached({ ttl: 60_000 })
  @SingleFlight({ distributed: false })
  async localOnly(id: string) {
    loads.push(id);
    await gate?.promise;
    return { id };
  }
}

describe('fleet-wide flights (two instances, the real Redis)', () => {
  const namespace = `sf-fleetflight-${randomUUID()}`;
  const keyPrefix = `sf-ff-${randomUUID().slice(0, 8)}:`;
  const cleanups: (() => Promise<void>)[] = [];
  const apps: TestingModule[] = [];

  const instance = async (options: SingleFlightModuleOptions = {}) => {
    const { keyv, cleanup } = trackedRedisKeyv(namespace);
    cleanups.push(cleanup);
    const app = await createTestApp([Reports], { stores: [keyv], options: { keyPrefix, redis: REDIS_URL, lease: 1_000, ...options } });
    apps.push(app);
    const executor = app.get(CachedExecutor);
    await until(() => executor.fleet!.bus.connected && executor.fleet!.link.ready);
    const statsOf = (method: string) => app.get(SingleFlightStats).method(`Reports.${method}`);
    const stats = () => statsOf('build');
    return { reports: app.get(Reports), trips: countStoreTrips(app.get<Cache>(CACHE_MANAGER) as never), executor, stats, statsOf };
  };

  afterEach(async () => {
    gate = undefined;
    loads = [];
    versions = 0;
    await Promise.all(apps.splice(0).map((app) => app.close()));
    await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
  });

  it('2 instances x 100 concurrent callers on a cold key: 1 load and 1 entry write in total', async () => {
    const a = await instance();
    const b = await instance();
    gate = latch();
    const calls = [...Array.from({ length: 100 }, () => a.reports.build('cold')), ...Array.from({ length: 100 }, () => b.reports.build('cold'))];
    await until(() => loads.length === 1);
    // B's leader is waiting for A's lease (or the other way round): give it time to ask, then release.
    await new Promise((resolve) => setTimeout(resolve, 50));
    gate.release();
    const results = await Promise.all(calls);
    expect(results.every((r) => r.id === 'cold' && r.rows.length === 3)).toBe(true);
    expect(loads).toEqual(['cold']);
    expect(a.trips.writes + b.trips.writes).toBe(1);
    // Counted: each instance led one flight that 99 callers joined; one loaded, the other waited for its lease.
    const [sa, sb] = [a.stats(), b.stats()];
    expect([sa.flights, sb.flights, sa.joined, sb.joined]).toEqual([1, 1, 99, 99]);
    expect(sa.loads + sb.loads).toBe(1);
    expect(sa.leaseWaits + sb.leaseWaits).toBe(1);
    expect(sa.leaseTakeovers + sb.leaseTakeovers).toBe(0);
    // One flight loaded (a miss); the waiter's read after the wait found the entry (a hit).
    expect([sa.misses + sb.misses, sa.hits.shared + sb.hits.shared]).toEqual([1, 1]);
  });

  it('an eviction during the holder\'s load: the waiters that started before it take the holder\'s value (no second load); a caller that starts after it gets a newer one', async () => {
    const a = await instance();
    const b = await instance();
    gate = latch();
    const holder = a.reports.versioned('moving');
    await until(() => loads.length === 1);
    const early = Array.from({ length: 20 }, () => b.reports.versioned('moving'));
    await until(() => b.statsOf('versioned').leaseWaits === 1);
    await a.reports.change('moving');
    // Started after the eviction resolved, whether or not B's bus has delivered it yet (it may join
    // B's waiting flight, or start its own): never the value loaded before it.
    const late = b.reports.versioned('moving');
    gate.release();
    gate = undefined;
    const [first, ...waited] = await Promise.all([holder, ...early]);
    expect(first).toEqual({ id: 'moving', version: 1 });
    expect(waited.every((r) => r.version === 1)).toBe(true); // loaded after they started: fresh for them
    expect(await late).toEqual({ id: 'moving', version: 2 });
    expect(b.statsOf('versioned').loads).toBe(1); // the late caller's: the early ones loaded nothing
    expect(await a.reports.versioned('moving')).toEqual({ id: 'moving', version: 2 });
    expect(loads).toEqual(['moving', 'moving']);
  });

  it('a process whose read missed just before another filled the key, and then takes the freed lease, reads again before loading', async () => {
    const a = await instance();
    const b = await instance();
    // B's first store read is answered (before A writes) but handed to B only after A is done.
    const store = (b.executor.layout as unknown as { shared: { store: { getMany(keys: string[]): Promise<unknown[]> } } }).shared.store;
    const getMany = store.getMany.bind(store);
    const answered = latch();
    const handOver = latch();
    let first = true;
    store.getMany = async (keys) => {
      const values = await getMany(keys);
      if (first) {
        first = false;
        answered.release();
        await handOver.promise;
      }
      return values;
    };
    const late = b.reports.build('race');
    await answered.promise;
    await a.reports.build('race');
    handOver.release();
    expect(await late).toEqual({ id: 'race', rows: [1, 2, 3] });
    expect(loads).toEqual(['race']);
  });

  it('without distributed, each instance loads once (the contrast)', async () => {
    const a = await instance();
    const b = await instance();
    gate = latch();
    const calls = [...Array.from({ length: 50 }, () => a.reports.localOnly('cold')), ...Array.from({ length: 50 }, () => b.reports.localOnly('cold'))];
    await until(() => loads.length === 2);
    gate.release();
    await Promise.all(calls);
    expect(loads).toEqual(['cold', 'cold']);
  });

  it('a holder whose load fails releases its lease at once: a waiting instance takes over, once', async () => {
    const a = await instance();
    const b = await instance();
    gate = latch();
    failNext = true;
    const first = a.reports.build('fails');
    await until(() => loads.length === 1);
    const second = b.reports.build('fails');
    await new Promise((resolve) => setTimeout(resolve, 50));
    gate.release();
    await expect(first).rejects.toThrow('database down');
    expect(await second).toEqual({ id: 'fails', rows: [1, 2, 3] });
    expect(loads).toEqual(['fails', 'fails']);
    expect(a.stats()).toMatchObject({ loads: 1, loadErrors: 1, leaseWaits: 0 });
    expect(b.stats()).toMatchObject({ loads: 1, loadErrors: 0, leaseWaits: 1, leaseTakeovers: 1 });
  });

  it('a holder that never releases (its process gone) loses the lease after `lease` ms; one waiter takes over', async () => {
    const b = await instance();
    const redis = new Redis(REDIS_URL);
    const cacheKey = `${keyPrefix}Reports.build:${JSON.stringify(['orphan'])}`;
    // A lease as a holder that died would leave it.
    await redis.set(`${keyPrefix}lease|${cacheKey}`, 'dead-holder', 'PX', 1_000);
    const startedAt = Date.now();
    const results = await Promise.all(Array.from({ length: 20 }, () => b.reports.build('orphan')));
    const waited = Date.now() - startedAt;
    await redis.quit();
    expect(results[0]).toEqual({ id: 'orphan', rows: [1, 2, 3] });
    expect(loads).toEqual(['orphan']);
    expect(waited).toBeGreaterThanOrEqual(900);
    expect(b.stats()).toMatchObject({ flights: 1, joined: 19, leaseWaits: 1, leaseTakeovers: 1, loads: 1 });
  });

  it('a long load renews its lease: held for 3 leases, no waiter takes over', async () => {
    // Renewed every lease / 3: a pause of the test process shorter than 2/3 of a lease (333 ms) cannot let it lapse.
    const a = await instance({ lease: 500 });
    const b = await instance({ lease: 500 });
    gate = latch();
    const first = a.reports.build('long');
    await until(() => loads.length === 1);
    const second = b.reports.build('long');
    await until(() => b.stats().leaseWaits === 1);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    gate.release();
    expect(await Promise.all([first, second])).toEqual([{ id: 'long', rows: [1, 2, 3] }, { id: 'long', rows: [1, 2, 3] }]);
    expect(loads).toEqual(['long']);
    expect(b.stats()).toMatchObject({ leaseWaits: 1, leaseTakeovers: 0, loads: 0 });
  });

  it('a hung load stops renewing at its hard timeout: its lease lapses and a waiter takes over (long before its own hard timeout)', async () => {
    const a = await instance({ lease: 200, hardTimeout: 400 });
    // B would wait past this test's timeout for a lease that is renewed for ever.
    const b = await instance({ lease: 200, hardTimeout: 60_000 });
    gate = latch();
    const first = a.reports.build('hung');
    await until(() => loads.length === 1);
    const second = b.reports.build('hung');
    await expect(first).rejects.toThrow(/hardTimeout/);
    // A's load still hangs (releasing it now would end its hold and release the lease): B must take over on its own.
    await until(() => loads.length === 2);
    gate.release();
    expect(await second).toEqual({ id: 'hung', rows: [1, 2, 3] });
    expect(loads).toEqual(['hung', 'hung']);
    expect(b.stats()).toMatchObject({ leaseWaits: 1, leaseTakeovers: 1, loads: 1 });
  }, 20_000);

  it('with Redis unreachable for leases, the flight is local: callers are answered', async () => {
    const a = await instance();
    a.executor.fleet!.link.commands.disconnect();
    const results = await Promise.all(Array.from({ length: 10 }, () => a.reports.build('no-redis')));
    expect(results.every((r) => r.id === 'no-redis')).toBe(true);
    expect(loads).toEqual(['no-redis']);
  });
});


if (!REDIS_BIN) console.warn('fleet-flights.spec.ts: no redis-server on the PATH (or REDIS_SERVER_BIN): the paused-Redis test is skipped');
(REDIS_BIN ? describe : describe.skip)('fleet-wide flights with a paused Redis (a private redis-server; the shared one is never touched)', () => {
  let redis: PrivateRedis;
  let dir: string;
  let app: TestingModule | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sf-fleet-pause-'));
    redis = new PrivateRedis(await freePort(), join(dir, 'data'), join(dir, 'redis.log'));
    await redis.start({ persist: false });
  });
  afterAll(async () => {
    redis.resume();
    await app?.close();
    await redis.destroy();
    rmSync(dir, { recursive: true, force: true });
    loads = [];
  });

  it('a lease request that timed out while Redis was paused leaves no lease behind once it answers again (no one waits `lease` ms for nobody)', async () => {
    const keyPrefix = `sf-pause-${randomUUID().slice(0, 8)}:`;
    app = await createTestApp([Reports], { stores: [redisKeyv('sf-pause', redis.url)], options: { keyPrefix, redis: redis.url, lease: 60_000, storeTimeout: 100 } });
    const executor = app.get(CachedExecutor);
    await until(() => executor.fleet!.bus.connected && executor.fleet!.link.ready);
    redis.pause();
    // The SET NX times out: the flight is local, the caller answered.
    expect(await app.get(Reports).build('paused')).toEqual({ id: 'paused', rows: [1, 2, 3] });
    redis.resume();
    const probe = new Redis(redis.url);
    try {
      const leaseKey = `${keyPrefix}lease|${keyPrefix}Reports.build:${JSON.stringify(['paused'])}`;
      // The SET ran when Redis woke up, and the release sent after it right behind it.
      await until(() => probe.status === 'ready');
      let lease: string | null = 'unknown';
      const deadline = Date.now() + 2_000;
      while (Date.now() < deadline && (lease = await probe.get(leaseKey)) !== null) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(lease).toBeNull();
    } finally {
      await probe.quit();
    }
  });
});
