import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Injectable, NotFoundException } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { Cache } from 'cache-manager';
import { Keyv } from 'keyv';
import { AsyncLocalStorage } from 'node:async_hooks';
import { CacheEvict, Cached, FlightRegistry, SingleFlight, type SingleFlightModuleOptions } from '@app/single-flight';
import { captureWarnings, warningsNaming } from './support/captured-logs.js';
import { installFakeClock } from './support/fake-clock.js';
import { latch, settle, until, type Latch } from './support/latch.js';
import { dropNamespace, redisKeyv } from './support/redis-cache.js';
import { createTestApp } from './support/test-app.js';

/**
 * Issue 9: stale-while-revalidate, stale-if-error (with its backoff), soft timeouts, refresh-ahead
 * and jitter, on the real Redis. Staleness is read from Date.now, which these tests move by hand
 * (Keyv reads its expiry from it too): ages are exact, and nothing here waits for a clock.
 */

const warnings = captureWarnings();

const TTL = 60_000;
const WINDOW = 600_000;
const BACKOFF = 5_000;

/** The database behind the loader: each load gets the next version, and waits for its gate if the test set one. */
const db = {
  version: 0,
  loads: 0,
  /** Loads currently running, and the most ever at once. */
  running: 0,
  mostAtOnce: 0,
  gates: [] as Latch[],
  failure: undefined as Error | undefined,
};

async function load(id: number): Promise<{ id: number; version: number }> {
  db.loads++;
  db.running++;
  db.mostAtOnce = Math.max(db.mostAtOnce, db.running);
  const version = ++db.version;
  try {
    await db.gates.shift()?.promise;
    if (db.failure) throw db.failure;
    return { id, version };
  } finally {
    db.running--;
  }
}

@Injectable()
class Catalog {
  @Cached({ ttl: TTL, staleWhileRevalidate: WINDOW, tags: ['catalog'] })
  @SingleFlight()
  async revalidated(id: number) {
    return load(id);
  }

  @Cached({ ttl: TTL, staleIfError: WINDOW, refreshBackoff: BACKOFF, tags: ['catalog'] })
  @SingleFlight()
  async resilient(id: number) {
    return load(id);
  }

  @Cached({ ttl: TTL, staleIfError: WINDOW, tags: ['catalog'] })
  @SingleFlight({ softTimeout: 20 })
  async patient(id: number) {
    return load(id);
  }

  @Cached({ ttl: 1_000, refreshAhead: 0.5 })
  @SingleFlight()
  async hot(id: number) {
    return load(id);
  }

  @Cached({ ttl: TTL, staleWhileRevalidate: WINDOW, jitter: 0.5 })
  async spread(id: number) {
    return load(id);
  }

  @Cached({ ttl: TTL, staleWhileRevalidate: WINDOW })
  @SingleFlight()
  async byQuery(query: { page: number }) {
    return { ...(await load(query.page)), page: query.page };
  }

  @Cached({ ttl: TTL, staleIfError: WINDOW, tags: ['catalog'] })
  @SingleFlight({ softTimeout: 20, hardTimeout: 150 })
  async bounded(id: number) {
    return load(id);
  }

  @Cached({ ttl: TTL, staleIfError: WINDOW })
  @SingleFlight()
  async found(id: number) {
    const value = await load(id);
    if (db.failure) throw db.failure;
    return value;
  }

  @Cached({ ttl: 300, staleWhileRevalidate: WINDOW })
  @SingleFlight()
  async shortLived(id: number) {
    return load(id);
  }

  /** The tenant comes from the request context only, as a nestjs-cls user's would. */
  @Cached({ ttl: TTL, staleWhileRevalidate: WINDOW })
  @SingleFlight()
  async tenantPage() {
    return { tenant: tenants.getStore(), ...(await load(0)) };
  }

  /** Everything from forRoot's defaults. */
  @Cached()
  @SingleFlight()
  async byDefaults(id: number) {
    return load(id);
  }

  @CacheEvict({ tags: ['catalog'] })
  async change() {}
}

const tenants = new AsyncLocalStorage<string>();

let namespace: string;
let app: TestingModule;
let clock: ReturnType<typeof installFakeClock>;
let catalog: Catalog;

/** Every flight done, background refreshes included (they are flights too). */
const idle = () => until(() => app.get(FlightRegistry).size === 0);

async function start(options: SingleFlightModuleOptions = {}) {
  app = await createTestApp([Catalog], { stores: [redisKeyv(namespace)], options });
  catalog = app.get(Catalog);
}

beforeEach(async () => {
  Object.assign(db, { version: 0, loads: 0, running: 0, mostAtOnce: 0, gates: [], failure: undefined });
  namespace = `freshness-${process.pid}-${Date.now()}`;
  clock = installFakeClock();
  await start();
});

afterEach(async () => {
  for (const gate of db.gates.splice(0)) gate.release();
  await app?.close();
  clock.restore();
  await dropNamespace(namespace);
});

describe('staleWhileRevalidate', () => {
  it('1,000 callers after expiry get the stale value at once while exactly 1 load runs; the next caller after it gets the fresh value', async () => {
    expect(await catalog.revalidated(1)).toEqual({ id: 1, version: 1 });
    clock.advance(TTL + 1);
    const refresh = latch();
    db.gates.push(refresh);
    // Every caller is answered while the refresh is still held by its gate.
    const answers = await Promise.all(Array.from({ length: 1_000 }, () => catalog.revalidated(1)));
    expect(answers.every((a) => a.version === 1)).toBe(true);
    await until(() => db.running === 1); // the refresh reads the store once more before it loads
    expect(db.loads).toBe(2);
    refresh.release();
    await idle();
    expect(await catalog.revalidated(1)).toEqual({ id: 1, version: 2 });
    expect(db.loads).toBe(2);
  });

  it('a caller that needs a load while the refresh is in the air (the window ended) joins it: one load in total', async () => {
    await catalog.revalidated(1);
    clock.advance(TTL + 1);
    const refresh = latch();
    db.gates.push(refresh);
    expect((await catalog.revalidated(1)).version).toBe(1);
    clock.advance(WINDOW); // past the window: a miss
    const waiting = catalog.revalidated(1);
    await settle();
    refresh.release();
    expect(await waiting).toEqual({ id: 1, version: 2 });
    expect(db.loads).toBe(2);
  });

  it('a refresh that fails is logged once, its key is left alone for the backoff, and no rejection goes unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await catalog.revalidated(1);
      clock.advance(TTL + 1);
      db.failure = new Error('database down');
      for (let i = 0; i < 3; i++) expect((await Promise.all(Array.from({ length: 100 }, () => catalog.revalidated(1)))).every((a) => a.version === 1)).toBe(true);
      await idle();
      await settle();
      expect(db.loads).toBe(2);
      expect(warningsNaming(warnings, 'Catalog.revalidated')).toEqual([expect.stringMatching(/refreshing ".*Catalog\.revalidated.*" failed \(database down\)/)]);
      clock.advance(5_000); // the default backoff
      await catalog.revalidated(1);
      await idle();
      expect(db.loads).toBe(3);
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('module defaults (forRoot)', () => {
  it('a @Cached() method takes the ttl and the stale windows from forRoot: stale at once with one refresh, then stale on error', async () => {
    await app.close();
    await start({ ttl: TTL, staleWhileRevalidate: WINDOW / 2, staleIfError: 2 * WINDOW });
    expect(await catalog.byDefaults(1)).toEqual({ id: 1, version: 1 });
    clock.advance(TTL + 1);
    const refresh = latch();
    db.gates.push(refresh);
    expect(await catalog.byDefaults(1)).toEqual({ id: 1, version: 1 }); // answered while the refresh is held
    await until(() => db.running === 1);
    refresh.release();
    await idle();
    expect(await catalog.byDefaults(1)).toEqual({ id: 1, version: 2 });
    clock.advance(TTL + WINDOW / 2 + 1); // past staleWhileRevalidate, inside staleIfError
    db.failure = new Error('database down');
    expect(await catalog.byDefaults(1)).toEqual({ id: 1, version: 2 });
    expect(db.loads).toBe(3);
  });
});

describe('staleIfError', () => {
  it('a failing loader: 0 errors for keys with a value in the window, 1 attempt per key per backoff; after the window, the error', async () => {
    const ids = [1, 2, 3, 4, 5];
    for (const id of ids) await catalog.resilient(id);
    expect(db.loads).toBe(5);
    clock.advance(TTL + 1);
    db.failure = new Error('database down');
    const burst = () => Promise.allSettled(ids.flatMap((id) => Array.from({ length: 100 }, () => catalog.resilient(id))));

    const first = await burst();
    expect(first.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(first.every((r) => r.status === 'fulfilled' && r.value.version <= 5)).toBe(true);
    expect(db.loads).toBe(5 + 5); // one attempt per key
    expect(warningsNaming(warnings, 'Catalog.resilient')).toHaveLength(5); // logged once per key per attempt, with the method and key
    expect(warnings.join('\n')).toContain('Catalog.resilient:[3]');

    await burst(); // within the backoff: no attempt
    expect(db.loads).toBe(10);

    clock.advance(BACKOFF);
    expect((await burst()).filter((r) => r.status === 'rejected')).toEqual([]);
    expect(db.loads).toBe(15); // one more attempt per key

    clock.advance(WINDOW);
    const late = await Promise.allSettled(ids.map((id) => catalog.resilient(id)));
    expect(late.map((r) => r.status === 'rejected' && (r.reason as Error).message)).toEqual(ids.map(() => 'database down'));
  });

  it('once the database is back, the next attempt after the backoff refreshes the value', async () => {
    await catalog.resilient(1);
    clock.advance(TTL + 1);
    db.failure = new Error('database down');
    expect((await catalog.resilient(1)).version).toBe(1);
    db.failure = undefined;
    expect((await catalog.resilient(1)).version).toBe(1); // still backing off
    clock.advance(BACKOFF);
    expect(await catalog.resilient(1)).toEqual({ id: 1, version: 3 });
    expect(await catalog.resilient(1)).toEqual({ id: 1, version: 3 }); // fresh again: a hit
    expect(db.loads).toBe(3);
  });
});

describe('softTimeout', () => {
  it('a hung load: callers are answered with the stale value after softTimeout; the late result is written', async () => {
    await catalog.patient(1);
    clock.advance(TTL + 1);
    const hung = latch();
    db.gates.push(hung);
    const answers = await Promise.all(Array.from({ length: 100 }, () => catalog.patient(1)));
    expect(answers.every((a) => a.version === 1)).toBe(true);
    expect(db.running).toBe(1); // still hung
    expect((await catalog.patient(1)).version).toBe(1); // joins the same load, no second one
    expect(db.loads).toBe(2);
    hung.release();
    await idle();
    expect(await catalog.patient(1)).toEqual({ id: 1, version: 2 });
    expect(db.loads).toBe(2);
  });

  it('without a stale value, callers wait for the load as before', async () => {
    const gate = latch();
    db.gates.push(gate);
    let answered = false;
    const first = catalog.patient(1).then((v) => ((answered = true), v));
    await new Promise((resolve) => setTimeout(resolve, 40)); // twice the soft timeout, in real time
    expect(answered).toBe(false);
    gate.release();
    expect(await first).toEqual({ id: 1, version: 1 });
  });
});

describe('refreshAhead', () => {
  it('a steady stream of hits across several ttls: no caller after the first waits for a load, and one refresh runs at a time', async () => {
    const loaded: number[] = []; // Date.now when each version's load finished
    const hits = 200;
    for (let i = 0; i < hits; i++) {
      const calledAt = Date.now();
      const versionsDone = db.version - db.running;
      const value = await catalog.hot(1);
      loaded[value.version] ??= calledAt;
      // The value was loaded before this call began (after the first), and it is not stale.
      if (i > 0) expect(value.version).toBeLessThanOrEqual(versionsDone);
      expect(calledAt - loaded[value.version]).toBeLessThan(1_000);
      clock.advance(50); // 200 hits over 10 ttls
      await idle(); // a refresh finishes in real milliseconds, long before its value would expire
    }
    expect(db.mostAtOnce).toBe(1);
    // One refresh per half ttl: 10 s / 500 ms, give or take the first and the last.
    expect(db.loads).toBeGreaterThanOrEqual(19);
    expect(db.loads).toBeLessThanOrEqual(21);
  });

  it('with a local tier, hits that never reach the store still refresh ahead', async () => {
    await app.close();
    await start({ local: { max: 100 } });
    const loaded: number[] = [];
    for (let i = 0; i < 100; i++) {
      const calledAt = Date.now();
      const value = await catalog.hot(1);
      loaded[value.version] ??= calledAt;
      expect(calledAt - loaded[value.version]).toBeLessThan(1_000);
      clock.advance(50);
      await idle();
    }
    expect(db.loads).toBeGreaterThanOrEqual(9);
    expect(db.mostAtOnce).toBe(1);
  });
});

describe('eviction during a stale window', () => {
  it('the stale value is never served again: callers wait for a load (stale-while-revalidate)', async () => {
    await catalog.revalidated(1);
    clock.advance(TTL + 1);
    await catalog.change();
    const gate = latch();
    db.gates.push(gate);
    let answered = 0;
    const callers = Array.from({ length: 10 }, () => catalog.revalidated(1).then((v) => (answered++, v)));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(answered).toBe(0);
    gate.release();
    expect((await Promise.all(callers)).every((v) => v.version === 2)).toBe(true);
  });

  it('a refresh in the air when the eviction comes is not joined, not served and not written', async () => {
    await catalog.revalidated(1);
    clock.advance(TTL + 1);
    const refresh = latch();
    db.gates.push(refresh);
    expect((await catalog.revalidated(1)).version).toBe(1); // starts the refresh (version 2, loaded before the eviction)
    await until(() => db.running === 1);
    await catalog.change();
    // Answered while the evicted refresh is still held: it was forgotten, not joined.
    expect(await catalog.revalidated(1)).toEqual({ id: 1, version: 3 });
    refresh.release();
    await idle();
    expect(await catalog.revalidated(1)).toEqual({ id: 1, version: 3 });
  });

  it('a failing loader after the eviction gives the error, not the stale value (stale-if-error)', async () => {
    await catalog.resilient(1);
    clock.advance(TTL + 1);
    await catalog.change();
    db.failure = new Error('database down');
    await expect(catalog.resilient(1)).rejects.toThrow('database down');
  });
});

describe('jitter', () => {
  it('keys written together go stale at different times, each within [ttl x (1 - jitter), ttl]', async () => {
    const ids = Array.from({ length: 100 }, (_, i) => i);
    await Promise.all(ids.map((id) => catalog.spread(id)));
    const cache = app.get<Cache>(CACHE_MANAGER);
    const lifetimes = await Promise.all(
      ids.map(async (id) => {
        const [, loadedAt, staleAt] = /^sf3\|(\d+)\|(\d+)\|/.exec((await cache.get<string>(`sf:Catalog.spread:[${id}]`))!)!;
        return Number(staleAt) - Number(loadedAt);
      }),
    );
    expect(Math.min(...lifetimes)).toBeGreaterThanOrEqual(TTL * 0.5);
    expect(Math.max(...lifetimes)).toBeLessThanOrEqual(TTL);
    expect(Math.max(...lifetimes) - Math.min(...lifetimes)).toBeGreaterThan(TTL * 0.25);
  });
});

describe('a refresh outlives the call that started it', () => {
  it('a caller that changes its arguments after getting the stale value: the refresh loads nothing for them, and the key keeps its own value', async () => {
    const query = { page: 1 };
    expect(await catalog.byQuery(query)).toMatchObject({ page: 1, version: 1 });
    clock.advance(TTL + 1);
    expect(await catalog.byQuery(query)).toMatchObject({ page: 1, version: 1 }); // stale; its refresh reads the store first
    query.page = 2; // a DTO reused for the next page
    await idle();
    expect(db.loads).toBe(1);
    expect(warningsNaming(warnings, 'Catalog.byQuery')).toEqual([expect.stringContaining('were changed since')]);
    clock.advance(BACKOFF);
    expect(await catalog.byQuery({ page: 1 })).toMatchObject({ page: 1 }); // never page 2's data under page 1's key
    await idle();
    expect(await catalog.byQuery({ page: 1 })).toMatchObject({ page: 1, version: 2 });
  });

  it('a refresh past its hard timeout writes nothing when it ends: the newer refresh\'s value stays', async () => {
    await catalog.bounded(1); // version 1
    clock.advance(TTL + 1);
    const hung = latch();
    db.gates.push(hung);
    expect((await catalog.bounded(1)).version).toBe(1); // after the soft timeout; the load (version 2) hangs
    await idle(); // its flight forgotten after the 150 ms hard timeout
    clock.advance(BACKOFF);
    expect((await catalog.bounded(1)).version).toBe(3); // a new attempt, version 3, written
    hung.release(); // version 2 ends last
    await settle();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await catalog.bounded(1)).version).toBe(3);
    expect(db.loads).toBe(3);
  });

  it('staleIfError hands out the stale value for the server\'s failures, not for a client error (an HttpException below 500)', async () => {
    await catalog.found(1);
    clock.advance(TTL + 1);
    db.failure = new NotFoundException('gone');
    await expect(catalog.found(1)).rejects.toThrow(NotFoundException);
  });
});

describe('tenants (vary)', () => {
  it('two tenants past their ttl: each gets its own stale value, and each refresh loads and writes its own tenant\'s data', async () => {
    await app.close();
    await start({ vary: () => tenants.getStore() });
    const as = <T>(tenant: string, call: () => Promise<T>) => tenants.run(tenant, call);
    expect(await as('acme', () => catalog.tenantPage())).toMatchObject({ tenant: 'acme', version: 1 });
    expect(await as('globex', () => catalog.tenantPage())).toMatchObject({ tenant: 'globex', version: 2 });
    clock.advance(TTL + 1);
    // Both stale at once: one refresh per tenant, each in its caller's context.
    const [a, g] = await Promise.all([as('acme', () => catalog.tenantPage()), as('globex', () => catalog.tenantPage())]);
    expect([a.tenant, g.tenant]).toEqual(['acme', 'globex']);
    await idle();
    expect(db.loads).toBe(4);
    const [a2, g2] = await Promise.all([as('acme', () => catalog.tenantPage()), as('globex', () => catalog.tenantPage())]);
    expect(a2).toMatchObject({ tenant: 'acme' });
    expect(g2).toMatchObject({ tenant: 'globex' });
    expect([a2.version, g2.version].sort()).toEqual([3, 4]); // the refreshed values, each under its own key
    expect(db.loads).toBe(4);
  });
});

describe('stops with the application', () => {
  it('a refresh in the air loads nothing more and writes nothing once the application closes; closing does not wait for it', async () => {
    // A store that outlives the application (Redis would be closed with it): a late write would show.
    await app.close();
    const store = new Keyv();
    app = await createTestApp([Catalog], { stores: [store] });
    catalog = app.get(Catalog);
    await catalog.revalidated(1);
    const key = 'sf:Catalog.revalidated:[1]';
    const before = await store.get(key);
    clock.advance(TTL + 1);
    const refresh = latch();
    db.gates.push(refresh);
    await catalog.revalidated(1);
    await until(() => db.running === 1);
    await app.close();
    refresh.release();
    await until(() => db.running === 0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await store.get(key)).toBe(before);
    expect(db.loads).toBe(2);
  });
});

describe('with a local tier', () => {
  it('a value found in the store late in its life is kept locally only until it goes stale, then refreshed', async () => {
    clock.restore(); // real time: the local tier's lifetimes are measured by lru-cache's own clock
    await app.close();
    const writer = await createTestApp([Catalog], { stores: [redisKeyv(namespace)] });
    app = await createTestApp([Catalog], { stores: [redisKeyv(namespace)], options: { local: { max: 100 } } });
    catalog = app.get(Catalog);
    try {
      await writer.get(Catalog).shortLived(1); // version 1, fresh for 300 ms
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await catalog.shortLived(1)).version).toBe(1); // read from the store 100 ms before it goes stale: kept locally that long
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect((await catalog.shortLived(1)).version).toBe(1); // stale now: from the store, and a refresh starts
      await until(() => db.loads === 2, 2_000);
    } finally {
      await writer.close();
    }
  });
});
