import { Injectable } from '@nestjs/common';
import { CACHE_MANAGER } from '@nestjs/cache-manager';
import type { Cache } from 'cache-manager';
import { Keyv } from 'keyv';
import { CacheEvict, Cached, SingleFlight } from '@app/single-flight';
import { CachedExecutor } from '../src/cached-executor.js';
import { captureWarnings } from './support/captured-logs.js';
import { settle, until } from './support/latch.js';
import { createTestApp } from './support/test-app.js';

type Mode = 'ok' | 'throw' | 'hang';

/** A Keyv store for fault injection: works, throws, or never answers. */
class FaultyStore {
  mode: Mode = 'ok';
  operations = 0;
  readonly data = new Map<string, unknown>();
  private act<T>(run: () => T): Promise<T> {
    this.operations++;
    if (this.mode === 'throw') return Promise.reject(new Error('ECONNREFUSED 127.0.0.1:6379'));
    if (this.mode === 'hang') return new Promise(() => undefined);
    return Promise.resolve(run());
  }
  get(key: string) { return this.act(() => this.data.get(key)); }
  getMany(keys: string[]) { return this.act(() => keys.map((k) => this.data.get(k))); }
  set(key: string, value: unknown) { return this.act(() => (this.data.set(key, value), true)); }
  delete(key: string) { return this.act(() => this.data.delete(key)); }
  clear() { return this.act(() => this.data.clear()); }
  on() { return this; }
}

@Injectable()
class Svc {
  loads = 0;
  @Cached()
  @SingleFlight()
  async get(id: number) {
    this.loads++;
    return { id, at: new Date(0) };
  }

  @CacheEvict({ tags: ['all'] })
  async write() {
    return 'written';
  }
}

const warnings = captureWarnings();

async function appWith(store: FaultyStore, options = {}) {
  const app = await createTestApp([Svc], { stores: [new Keyv({ store })], options: { storeTimeout: 30, ...options } });
  return { app, svc: app.get(Svc) };
}

describe('a cache store that fails is never the outage', () => {
  it('a throwing store: reads are misses, writes are skipped, callers get the loader result, with a warning', async () => {
    const store = new FaultyStore();
    store.mode = 'throw';
    const { app, svc } = await appWith(store);
    await expect(svc.get(1)).resolves.toEqual({ id: 1, at: new Date(0) });
    await expect(svc.get(1)).resolves.toEqual({ id: 1, at: new Date(0) });
    expect(svc.loads).toBe(2);
    expect(warnings.join('\n')).toMatch(/Cache read failed.*ECONNREFUSED/);
    await app.close();
  });

  it('a write whose invalidation cannot be stored still succeeds, with an error logged (the invalidation is queued)', async () => {
    const store = new FaultyStore();
    store.mode = 'throw';
    const { app, svc } = await appWith(store);
    await expect(svc.write()).resolves.toBe('written');
    expect(warnings.join('\n')).toMatch(/Cache invalidation of tag "all" not written: the store is unavailable/);
    await app.close();
  });

  it('a process that only writes (its circuit never opens: invalidations bypass it) waits for a hanging store once, then queues at once until a retry gets through', async () => {
    const store = new FaultyStore();
    const { app, svc } = await appWith(store, { storeTimeout: 100 });
    store.mode = 'hang';
    await expect(svc.write()).resolves.toBe('written'); // waited the store timeout, then queued
    for (let i = 0; i < 20; i++) {
      let done = false;
      const write = svc.write().then(() => (done = true));
      await settle();
      expect(done).toBe(true); // queued without waiting
      await write;
    }
    store.mode = 'ok';
    const { retries } = app.get(CachedExecutor).tags;
    await until(() => retries.size === 0);
    const operations = store.operations;
    await svc.write();
    expect(store.operations).toBe(operations + 1); // written directly again
    expect(retries.size).toBe(0);
    await app.close();
  });

  it('a hanging store: every call still answers, after the store timeout', async () => {
    const store = new FaultyStore();
    store.mode = 'hang';
    const { app, svc } = await appWith(store);
    await expect(Promise.all([svc.get(1), svc.get(2)])).resolves.toEqual([{ id: 1, at: new Date(0) }, { id: 2, at: new Date(0) }]);
    expect(warnings.join('\n')).toMatch(/longer than 30 ms/);
    await app.close();
  });

  it('opens the circuit after repeated failures (store left alone), and closes it when the store answers again', async () => {
    const store = new FaultyStore();
    store.mode = 'throw';
    const { app, svc } = await appWith(store, { circuitBreaker: { failureThreshold: 3, resetTimeout: 50 } });
    for (let i = 0; i < 3; i++) await svc.get(i); // read + write each: the circuit opens on the 3rd failure
    const touched = store.operations;
    for (let i = 0; i < 20; i++) await svc.get(i);
    expect(store.operations).toBe(touched);
    expect(warnings.some((w) => /circuit open/.test(w))).toBe(true);

    store.mode = 'ok';
    await new Promise((resolve) => setTimeout(resolve, 60));
    await svc.get(100); // the probe
    const loads = svc.loads;
    await svc.get(100);
    expect(svc.loads).toBe(loads); // a hit: the store is back in use
    await app.close();
  });

  it('circuitBreaker: false: the circuit never opens, every call tries the store again', async () => {
    const store = new FaultyStore();
    store.mode = 'throw';
    const { app, svc } = await appWith(store, { circuitBreaker: false });
    for (let i = 0; i < 10; i++) await svc.get(i);
    const touched = store.operations;
    await svc.get(100);
    expect(store.operations).toBeGreaterThan(touched);
    expect(warnings.some((w) => /circuit open/.test(w))).toBe(false);
    await app.close();
  });

  it('treats a value it cannot read as a miss, and replaces it', async () => {
    const { app, svc } = await createTestApp([Svc]).then((a) => ({ app: a, svc: a.get(Svc) }));
    const cache = app.get<Cache>(CACHE_MANAGER);
    const key = 'sf:Svc.get:[1]';
    for (const garbage of ['not an entry', 'sf1||["broken', 42, { json: true }]) {
      await cache.set(key, garbage);
      await expect(svc.get(1)).resolves.toEqual({ id: 1, at: new Date(0) });
    }
    expect(svc.loads).toBe(4);
    await expect(svc.get(1)).resolves.toEqual({ id: 1, at: new Date(0) });
    expect(svc.loads).toBe(4);
    await app.close();
  });
});
