import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { Cache } from 'cache-manager';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { Cached, SingleFlight, type SingleFlightModuleOptions } from '@app/single-flight';
import { CachedExecutor } from '../src/cached-executor.js';
import { countStoreTrips } from './support/count-calls.js';
import { latch, until, type Latch } from './support/latch.js';
import { REDIS_URL } from './support/redis-cache.js';
import { trackedRedisKeyv } from './support/tracked-redis.js';
import { createTestApp } from './support/test-app.js';

// Fleet-wide flights between two application instances in one test process, each with its own
// Redis connections, on the real Redis. The multi-process version is fleet-processes.spec.ts.
let loads: string[] = [];
let gate: Latch | undefined;
let failNext = false;

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
    return { reports: app.get(Reports), trips: countStoreTrips(app.get<Cache>(CACHE_MANAGER) as never), executor };
  };

  afterEach(async () => {
    gate = undefined;
    loads = [];
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
  });

  it('with Redis unreachable for leases, the flight is local: callers are answered', async () => {
    const a = await instance();
    a.executor.fleet!.link.commands.disconnect();
    const results = await Promise.all(Array.from({ length: 10 }, () => a.reports.build('no-redis')));
    expect(results.every((r) => r.id === 'no-redis')).toBe(true);
    expect(loads).toEqual(['no-redis']);
  });
});
