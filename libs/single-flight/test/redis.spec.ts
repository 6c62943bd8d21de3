import { jest } from '@jest/globals';
import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Injectable, Logger } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { Cache } from 'cache-manager';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { types } from 'node:util';
import { CacheEvict, Cached, FlightRegistry, SingleFlight } from '@app/single-flight';
import { countStoreTrips } from './support/count-calls.js';
import { latch, until, type Latch } from './support/latch.js';
import { REDIS_URL, redisKeyv } from './support/redis-cache.js';
import { createTestApp } from './support/test-app.js';

/** Every row a database could hand back, in the types it would. */
const row = (id: string, version: number) => ({
  id,
  version,
  createdAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)),
  resolvedAt: null as Date | null,
  counters: new Map([['views', 10n ** 20n]]),
  labels: new Set(['db', 'p1']),
  note: undefined as string | undefined,
});

let version = 1;
let loads = 0;
let gate: Latch | undefined;

@Injectable()
class IncidentsService {
  @Cached({ ttl: 60_000, tags: (id: string) => [`incident:${id}`] })
  @SingleFlight()
  async get(id: string) {
    loads++;
    await gate?.promise;
    return row(id, version);
  }

  @Cached({ ttl: 300 })
  async short(id: string) {
    loads++;
    return row(id, version);
  }

  @CacheEvict({ tags: (_: unknown, id: string) => [`incident:${id}`] })
  async update(id: string) {
    version++;
    return id;
  }
}

@Injectable()
class Tagged {
  @Cached({ tags: (tag: string) => [tag] })
  async read(tag: string) {
    return tag;
  }

  @CacheEvict({ tags: (tag: string) => [tag] })
  async touch(tag: string) {
    return tag;
  }
}

describe('on the real Redis (cache-manager 7 + cache-manager-ioredis-yet)', () => {
  const namespace = `sf-test-${randomUUID()}`;
  const redis = new Redis(REDIS_URL);
  let apps: TestingModule[] = [];

  const start = async () => {
    const app = await createTestApp([IncidentsService], { stores: [redisKeyv(namespace)], options: { ttl: 60_000 } });
    apps.push(app);
    return { app, service: app.get(IncidentsService), cache: app.get<Cache>(CACHE_MANAGER) };
  };

  beforeEach(() => ((version = 1), (loads = 0), (gate = undefined)));
  afterEach(async () => {
    await Promise.all(apps.map((app) => app.close()));
    apps = [];
    const keys = await redis.keys(`${namespace}:*`);
    if (keys.length) await redis.del(keys);
  });
  afterAll(() => redis.quit());

  it('brings Date, BigInt, Map, Set, null and undefined back with their types, on a miss and on a hit', async () => {
    const { service } = await start();
    const miss = await service.get('a');
    const hit = await service.get('a');
    expect(loads).toBe(1);
    for (const value of [miss, hit]) {
      expect(types.isDate(value.createdAt)).toBe(true);
      expect(value.createdAt.toISOString()).toBe('2026-01-02T03:04:05.678Z');
      expect(value.resolvedAt).toBeNull();
      expect(types.isMap(value.counters) && value.counters.get('views')).toBe(10n ** 20n);
      expect(types.isSet(value.labels) && [...value.labels]).toEqual(['db', 'p1']);
      expect('note' in value).toBe(true);
    }
  });

  it('stores the entry under the documented key, with the ttl asked for', async () => {
    const { service } = await start();
    await service.get('a');
    const ttl = await redis.pttl(`${namespace}:sf:IncidentsService.get:["a"]`);
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('honours the ttl: an entry is gone after it', async () => {
    const { service } = await start();
    await service.short('a');
    await service.short('a');
    expect(loads).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 400));
    await service.short('a');
    expect(loads).toBe(2);
  });

  it.each([10, 1_000])('a burst of %i callers costs one Redis read, one load and one write (and a token for a tag never used before: one more read, one write)', async (n) => {
    const { service, cache } = await start();
    const store = countStoreTrips(cache);
    gate = latch();
    const callers = Array.from({ length: n }, () => service.get('burst'));
    await until(() => loads === 1);
    expect(apps[0].get(FlightRegistry).waiters('sf:IncidentsService.get:["burst"]')).toBe(n);
    gate.release();
    const results = await Promise.all(callers);
    expect(loads).toBe(1);
    // The entry, and the token of the new tag incident:burst (read once more, in case another load
    // created it meanwhile, then written before the load began).
    expect(store).toEqual({ reads: 2, writes: 2 });
    expect(new Set(results.map((r) => r.createdAt.getTime()))).toEqual(new Set([Date.UTC(2026, 0, 2, 3, 4, 5, 678)]));
  });

  it('a burst of 1,000 callers on a cached, tagged key costs one Redis read: callers that start together need no re-read', async () => {
    const { service, cache } = await start();
    await service.get('warm');
    const store = countStoreTrips(cache);
    const results = await Promise.all(Array.from({ length: 1_000 }, () => service.get('warm')));
    expect(loads).toBe(1);
    expect(store).toEqual({ reads: 1, writes: 0 });
    expect(new Set(results).size).toBe(1_000);
  });

  it('callers that join a tagged flight after its load began cost one token re-read for all of them', async () => {
    const { service, cache } = await start();
    const store = countStoreTrips(cache);
    gate = latch();
    const first = service.get('joined');
    await until(() => loads === 1); // the load has begun: the read and the token write are done
    const late = Array.from({ length: 100 }, () => service.get('joined'));
    gate.release();
    await Promise.all([first, ...late]);
    expect(loads).toBe(1);
    // The flight's read, the new tag's token read once more before it is created, and one re-read of the token for the late callers.
    expect(store.reads).toBe(3);
  });

  it('two application instances sharing one Redis: a hit in the second, an eviction in one seen by the other', async () => {
    const one = await start();
    const two = await start();
    await one.service.get('a');
    expect(await two.service.get('a')).toMatchObject({ version: 1 });
    expect(loads).toBe(1);

    await two.service.update('a');
    expect(await one.service.get('a')).toMatchObject({ version: 2 });
    expect(await two.service.get('a')).toMatchObject({ version: 2 });
    expect(loads).toBe(2);
  });

  it('invalidates without KEYS or SCAN', async () => {
    const { service } = await start();
    await service.get('a');
    const stats = async () => (await redis.info('commandstats')).split('\n').filter((l) => /cmdstat_(keys|scan):/.test(l)).join();
    const before = await stats();
    await service.update('a');
    expect(await stats()).toBe(before);
  });

  describe('tag tokens expire, but never before the entries that recorded them', () => {
    const tokenTtlOf = async (app: TestingModule, tag: string) => {
      await app.get(Tagged).touch(tag);
      return redis.pttl(`${namespace}:sf:#tag:${tag}`);
    };
    const appWith = async (options: object) => {
      const app = await createTestApp([Tagged], { stores: [redisKeyv(namespace)], options });
      apps.push(app);
      return app;
    };

    it('by default they live at least an hour, and longer than the longest entry ttl plus the hard timeout', async () => {
      expect(await tokenTtlOf(await appWith({ ttl: 60_000 }), 'short')).toBeGreaterThan(3_590_000);
      const long = await tokenTtlOf(await appWith({ ttl: 5 * 3_600_000 }), 'long'); // entries of 5 h
      expect(long).toBeGreaterThan(5 * 3_600_000 + 29_000);
      expect(long).toBeLessThanOrEqual(5 * 3_600_000 + 30_000);
    });

    it('forRoot({ tagTtl }) sets their lifetime', async () => {
      const ttl = await tokenTtlOf(await appWith({ ttl: 1_000, tagTtl: 7_200_000 }), 'explicit');
      expect(ttl).toBeGreaterThan(7_190_000);
      expect(ttl).toBeLessThanOrEqual(7_200_000);
    });

    it('without a ttl the library knows, they do not expire, and it says so at start', async () => {
      const warnings = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      try {
        expect(await tokenTtlOf(await appWith({}), 'forever')).toBe(-1);
        expect(warnings.mock.calls.flat().join('\n')).toMatch(/Tag tokens are written without expiry/);
      } finally {
        warnings.mockRestore();
      }
    });
  });
});
