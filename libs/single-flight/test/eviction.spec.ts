import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { Cache } from 'cache-manager';
import { CacheEvict, Cached, SingleFlight } from '@app/single-flight';
import { Keyv } from 'keyv';
import { latch, settle, until, type Latch } from './support/latch.js';
import { createTestApp } from './support/test-app.js';

@Injectable()
class IncidentsService {
  version = 1;
  loads = 0;
  gate: Latch | undefined;

  @Cached({ tags: ['incidents'] })
  @SingleFlight()
  async list(): Promise<{ version: number }> {
    const version = this.version;
    this.loads++;
    await this.gate?.promise;
    return { version };
  }

  @Cached({ tags: (id: string) => [`incident:${id}`] })
  @SingleFlight()
  async get(id: string): Promise<{ id: string; version: number }> {
    this.loads++;
    return { id, version: this.version };
  }

  @Cached({ tags: ['incidents'] })
  @SingleFlight()
  async page(n: number): Promise<{ n: number; version: number }> {
    this.loads++;
    return { n, version: this.version };
  }

  @CacheEvict({ tags: ['incidents'] })
  async create(): Promise<void> {
    this.version++;
  }

  @CacheEvict({ tags: ['incidents'] })
  async failingCreate(): Promise<void> {
    throw new Error('write failed');
  }

  @CacheEvict({ tags: (result: { id: string }, id: string) => ['incidents', `incident:${id}`, `incident:${result.id}`] })
  async update(id: string): Promise<{ id: string }> {
    this.version++;
    return { id };
  }
}

let sharedVersion = 1;
let sharedLoads = 0;
let sharedGate: Latch | undefined;

/** The state lives outside the instances, as a database does for two processes. */
@Injectable()
class Shared {
  @Cached({ tags: ['shared'] })
  @SingleFlight()
  async read(): Promise<{ version: number }> {
    const version = sharedVersion;
    sharedLoads++;
    await sharedGate?.promise;
    return { version };
  }

  @CacheEvict({ tags: ['shared'] })
  async write(): Promise<void> {
    sharedVersion++;
  }
}

describe('@CacheEvict', () => {
  let app: TestingModule;
  let service: IncidentsService;
  beforeEach(async () => {
    app = await createTestApp([IncidentsService]);
    service = app.get(IncidentsService);
  });
  afterEach(() => app.close());

  it('resolves after the invalidation is written: the next read sees the write', async () => {
    expect(await service.list()).toEqual({ version: 1 });
    expect(await service.list()).toEqual({ version: 1 });
    await service.create();
    expect(await service.list()).toEqual({ version: 2 });
    expect(service.loads).toBe(2);
  });

  it('evicts tags computed from the result and the arguments, and only those', async () => {
    await Promise.all([service.get('a'), service.get('b'), service.list()]);
    await service.update('a');
    await Promise.all([service.get('a'), service.get('b'), service.list()]);
    expect(service.loads).toBe(5); // a and list again; b still cached
    expect(await service.get('b')).toEqual({ id: 'b', version: 1 });
  });

  it('wins over a load that began before it: the stale result is never served afterwards', async () => {
    service.gate = latch();
    const stale = service.list(); // reads version 1, then waits
    await until(() => service.loads === 1);
    await service.create(); // version 2, invalidated while the load is in flight

    // A caller arriving after the eviction does not join the stale flight...
    service.gate.release();
    expect(await service.list()).toEqual({ version: 2 });
    // ...the stale flight's callers still get their (pre-eviction) outcome...
    expect(await stale).toEqual({ version: 1 });
    await settle();
    // ...and what it wrote is never taken by later readers.
    expect(await service.list()).toEqual({ version: 2 });
  });

  it('wins over a load that began before an eviction made by another instance, even when that load writes its entry last', async () => {
    // Two instances on one store, as two processes on one Redis: the eviction cannot detach the
    // load, only the tag tokens the load read before it began can make its entry stale.
    const store = new Keyv();
    const [one, two] = await Promise.all([createTestApp([Shared], { stores: [store] }), createTestApp([Shared], { stores: [store] })]);
    const [reader, writer] = [one.get(Shared), two.get(Shared)];
    sharedVersion = 1;
    sharedGate = latch();
    const stale = reader.read(); // a miss: reads the tag's token, then loads version 1, held
    await until(() => sharedLoads === 1);
    await writer.write(); // version 2, evicted by the other instance
    sharedGate.release();
    sharedGate = undefined;
    expect(await stale).toEqual({ version: 1 }); // it started before the eviction; its entry is now written
    expect(await reader.read()).toEqual({ version: 2 }); // the entry written last is not taken
    expect(await writer.read()).toEqual({ version: 2 });
    await Promise.all([one.close(), two.close()]);
  });

  it('records tag tokens with the entry, without KEYS or SCAN: the first load creates a token, each invalidation writes a new one', async () => {
    const cache = app.get<Cache>(CACHE_MANAGER);
    await service.list();
    const first = await cache.get<string>('sf:#tag:incidents');
    expect(first).toMatch(/^[\w-]{12}$/);
    expect((await cache.get<string>('sf:IncidentsService.list:[]'))?.startsWith(`sf2|${first}|`)).toBe(true);
    await service.create();
    const second = await cache.get<string>('sf:#tag:incidents');
    expect(second).toMatch(/^[\w-]{12}$/);
    expect(second).not.toBe(first);
  });

  it('does not evict when the method fails', async () => {
    await service.list();
    await expect(service.failingCreate()).rejects.toThrow('write failed');
    await service.list();
    expect(service.loads).toBe(1);
  });

  it('never brings an evicted entry back when the tag token disappears (expired, or evicted by the store)', async () => {
    const cache = app.get<Cache>(CACHE_MANAGER);
    expect(await service.list()).toEqual({ version: 1 });
    await service.create(); // version 2
    await cache.del('sf:#tag:incidents'); // the token is gone: the entry of version 1 must not match again
    expect(await service.list()).toEqual({ version: 2 });
  });

  it('cold keys under a tag with no token yet: a load whose read predates another load\'s new token records itself under that token, not a second one', async () => {
    const data = new Map<string, unknown>();
    const answer = latch();
    let holding = false;
    const store = {
      get: async (k: string) => data.get(k),
      getMany: async (keys: string[]) => {
        const values = keys.map((k) => data.get(k)); // read now (no token yet), answer later
        if (holding && keys.some((k) => k.includes('page:[2]'))) {
          holding = false;
          await answer.promise;
        }
        return values;
      },
      set: async (k: string, v: unknown) => (data.set(k, v), true),
      delete: async (k: string) => data.delete(k),
      clear: async () => data.clear(),
      on: () => store,
    };
    const cold = await createTestApp([IncidentsService], { stores: [new Keyv({ store })] });
    const svc = cold.get(IncidentsService);
    holding = true;
    const second = svc.page(2); // its read finds no token, and is answered only after the first load wrote one
    await svc.page(1); // creates the tag's token, loads and writes under it
    answer.release();
    await second;
    expect(svc.loads).toBe(2);
    // Both entries are hits: a second token would have made the first entry a miss.
    await Promise.all([svc.page(1), svc.page(2)]);
    expect(svc.loads).toBe(2);
    await cold.close();
  });

  it('wins over a flight still reading the cache: later callers do not join it', async () => {
    // A store whose reads can be held, to stop a flight between its cache read and its answer.
    const data = new Map<string, unknown>();
    const held = latch();
    let reads = 0;
    let holdNext = false;
    const store = {
      get: async (k: string) => data.get(k),
      getMany: async (keys: string[]) => {
        reads++;
        const values = keys.map((k) => data.get(k)); // read now, answer later
        if (holdNext) {
          holdNext = false;
          await held.promise;
        }
        return values;
      },
      set: async (k: string, v: unknown) => (data.set(k, v), true),
      delete: async (k: string) => data.delete(k),
      clear: async () => data.clear(),
      on: () => store,
    };
    const slow = await createTestApp([IncidentsService], { stores: [new Keyv({ store })] });
    const svc = slow.get(IncidentsService);
    await svc.list(); // version 1 loaded and cached
    holdNext = true;
    const readsBefore = reads;
    const early = svc.list(); // finds the version-1 entry, its answer held
    await until(() => reads === readsBefore + 1);
    await svc.create(); // version 2, invalidated while that read is in flight
    expect(await svc.list()).toEqual({ version: 2 }); // a new flight, not the held one
    held.release();
    expect(await early).toEqual({ version: 1 });
    expect(svc.loads).toBe(2);
    await slow.close();
  });
});
