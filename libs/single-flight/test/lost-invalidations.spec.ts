import { CacheModule } from '@nestjs/cache-manager';
import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { TestingModule } from '@nestjs/testing';
import { Keyv } from 'keyv';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheEvict, Cached, SingleFlight, SingleFlightModule } from '@app/single-flight';
import { CachedExecutor } from '../src/cached-executor.js';
import { captureWarnings } from './support/captured-logs.js';
import { FakeKeyvStore } from './support/fake-keyv-store.js';
import { latch, settle, until } from './support/latch.js';
import { freePort, PrivateRedis, REDIS_BIN } from './support/private-redis.js';
import { redisKeyv } from './support/redis-cache.js';
import { createTestApp } from './support/test-app.js';

/**
 * Issue 7, points 1 and 2: an invalidation the store does not take is kept and retried until it
 * does; meanwhile this process treats entries under its tags as misses; with the circuit open,
 * a write does not wait for the store; an outage is logged once.
 */

const warnings = captureWarnings();

/** The database: one row whose version every write bumps, shared by the "instances". */
const db = { version: 1 };

@Injectable()
class Incidents {
  loads = 0;

  @Cached({ ttl: 600_000, tags: ['incidents'] })
  @SingleFlight()
  async list(): Promise<{ version: number }> {
    this.loads++;
    return { version: db.version };
  }

  @CacheEvict({ tags: ['incidents'] })
  async create(): Promise<number> {
    return ++db.version;
  }
}

const retriesOf = (app: TestingModule) => app.get(CachedExecutor).tags.retries;

beforeEach(() => (db.version = 1));

describe('a write made while the store is down is not lost (fake store: its data survives its outage)', () => {
  let store: FakeKeyvStore;
  let a: TestingModule;
  let b: TestingModule;
  beforeEach(async () => {
    store = new FakeKeyvStore();
    // Two instances sharing one store, as two processes share Redis.
    const options = { storeTimeout: 2_000, circuitBreaker: { failureThreshold: 3, resetTimeout: 60_000 } };
    [a, b] = await Promise.all([createTestApp([Incidents], { stores: [new Keyv({ store })], options }), createTestApp([Incidents], { stores: [new Keyv({ store })], options })]);
  });
  afterEach(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  it('the write is acknowledged; back up with its old data, the store is not trusted here for the tag until the invalidation is written; then no instance serves the old value', async () => {
    await expect(a.get(Incidents).list()).resolves.toEqual({ version: 1 });
    await expect(b.get(Incidents).list()).resolves.toEqual({ version: 1 }); // a hit

    store.mode = 'throw';
    await expect(a.get(Incidents).create()).resolves.toBe(2);
    expect(retriesOf(a).size).toBe(1);
    store.mode = 'ok'; // back, with the entry and token of before the write

    // A: at once, before the retry lands: the pending invalidation makes the old entry a miss.
    const loads = a.get(Incidents).loads;
    await expect(a.get(Incidents).list()).resolves.toEqual({ version: 2 });
    expect(a.get(Incidents).loads).toBe(loads + 1);
    expect(retriesOf(a).size).toBe(1);

    await until(() => retriesOf(a).size === 0);
    await expect(b.get(Incidents).list()).resolves.toEqual({ version: 2 });
    expect(warnings.filter((w) => /not written: the store is unavailable/.test(w))).toHaveLength(1);
  });

  it('a read made while the invalidation is pending is a miss even when the retry lands before it answers (it may carry the replaced token)', async () => {
    await a.get(Incidents).list();
    store.mode = 'throw';
    await a.get(Incidents).create();
    store.mode = 'ok';
    store.holdReads = latch();
    const read = a.get(Incidents).list(); // reads the entry and the old token now, answers later
    await until(() => store.heldReads === 1);
    await until(() => retriesOf(a).size === 0); // the retry lands while the read is out
    store.holdReads.release();
    await expect(read).resolves.toEqual({ version: 2 });
  });

  it('a graceful shutdown gives queued invalidations one last try while the store is open', async () => {
    const token = () => store.data.get('keyv:sf:#tag:incidents');
    await a.get(Incidents).list();
    const before = token();
    store.mode = 'throw';
    await a.get(Incidents).create();
    store.mode = 'ok'; // back, before the first retry (100 ms) is due
    await a.close();
    expect(token()).not.toEqual(before);
    expect(warnings.filter((w) => /Stopping with/.test(w))).toEqual([]);
  });

  it('with the circuit open, a write does not wait for the store: its invalidation is queued at once; 50 writes in an outage log one line for their invalidations', async () => {
    store.mode = 'throw';
    for (let i = 0; i < 3; i++) await a.get(Incidents).list(); // opens the circuit
    expect(a.get(CachedExecutor).layout!.sharedOpenSince).toBeDefined(); // the circuit is open
    for (let i = 0; i < 50; i++) {
      let done = false;
      const write = a.get(Incidents).create().then(() => (done = true));
      await settle();
      expect(done).toBe(true); // resolved without a store round trip
      await write;
    }
    expect(warnings.filter((w) => /invalidation/i.test(w))).toHaveLength(1);
    expect(retriesOf(a).size).toBe(1); // coalesced: one tag
  });

  it('once a queued invalidation got through, later writes wait for the store again though the circuit is still open: another instance whose circuit closed sooner never reads what they outdated', async () => {
    store.mode = 'throw';
    for (let i = 0; i < 3; i++) await a.get(Incidents).list(); // opens A's circuit (resetTimeout: a minute)
    await a.get(Incidents).create(); // queued
    store.mode = 'ok';
    await until(() => retriesOf(a).size === 0); // the retry got through; A's circuit is still open
    expect(a.get(CachedExecutor).layout!.sharedOpenSince).toBeDefined(); // the circuit is open

    await expect(b.get(Incidents).list()).resolves.toEqual({ version: 2 }); // B caches the current value
    await expect(a.get(Incidents).create()).resolves.toBe(3);
    // Written before the call resolved: B, reading right after A acknowledged, sees the new version.
    await expect(b.get(Incidents).list()).resolves.toEqual({ version: 3 });
    expect(retriesOf(a).size).toBe(0);
    expect(warnings.filter((w) => /not written: the store is unavailable/.test(w))).toHaveLength(1); // no error per write
  });
});


// Needs the redis-server binary (the shared Redis is never killed): skipped, saying so, without it.
if (!REDIS_BIN) console.warn('lost-invalidations.spec.ts: no redis-server on the PATH (or REDIS_SERVER_BIN): the private Redis test is skipped');
const withRedisServer = REDIS_BIN ? describe : describe.skip;

withRedisServer('a Redis that persists its data, killed and restarted (a private redis-server; the shared one is never touched)', () => {
  let redis: PrivateRedis;
  let a: TestingModule;
  let b: TestingModule;

  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sf-lost-invalidations-'));
    redis = new PrivateRedis(await freePort(), join(dir, 'data'), join(dir, 'redis.log'));
    await redis.start({ persist: true });
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await redis.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('after the restart, neither the writing instance (at once) nor another one (once the retry landed) serves the value from before the write', async () => {
    const options = { storeTimeout: 200, circuitBreaker: { failureThreshold: 2, resetTimeout: 60_000 } };
    [a, b] = await Promise.all(
      [1, 2].map(() => createTestApp([Incidents], { stores: [redisKeyv('sf-lost', redis.url)], options })),
    );
    await expect(a.get(Incidents).list()).resolves.toEqual({ version: 1 });
    await expect(b.get(Incidents).list()).resolves.toEqual({ version: 1 });

    await redis.kill();
    await expect(a.get(Incidents).create()).resolves.toBe(2); // acknowledged; its invalidation is queued
    await redis.start({ persist: true }); // the entry and the token of before the write come back
    expect(await redis.countKeys('sf-lost:sf:')).toEqual({ total: 2, matching: 2 }); // the entry and the tag's token, restored from the AOF

    await expect(a.get(Incidents).list()).resolves.toEqual({ version: 2 });
    await until(() => retriesOf(a).size === 0, 10_000);
    await expect(b.get(Incidents).list()).resolves.toEqual({ version: 2 });
    await expect(a.get(Incidents).list()).resolves.toEqual({ version: 2 });
  });
});

describe('the last try at shutdown comes before @nestjs/cache-manager disconnects the stores, whatever the import order', () => {
  @Module({})
  class Empty {}

  it.each([
    ['CacheModule first', true],
    ['SingleFlightModule first', false],
  ])('%s', async (_, cacheFirst) => {
    const store = new FakeKeyvStore();
    const cache = CacheModule.register({ isGlobal: true, stores: [new Keyv({ store })] });
    const singleFlight = SingleFlightModule.forRoot({ storeTimeout: 2_000 });
    const app = await Test.createTestingModule({ imports: cacheFirst ? [cache, singleFlight, Empty] : [singleFlight, cache, Empty], providers: [Incidents] }).compile();
    await app.init();
    await app.get(Incidents).list();
    const before = store.data.get('keyv:sf:#tag:incidents');
    store.mode = 'throw';
    await app.get(Incidents).create();
    store.mode = 'ok';
    await app.close();
    expect(store.disconnected).toBe(true);
    expect(store.data.get('keyv:sf:#tag:incidents')).not.toEqual(before);
    expect(warnings.filter((w) => /Stopping with|never written/.test(w))).toEqual([]);
  });
});
