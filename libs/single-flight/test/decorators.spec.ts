import { jest } from '@jest/globals';
import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Injectable, Scope, SetMetadata } from '@nestjs/common';
import { ContextIdFactory, Reflector } from '@nestjs/core';
import type { TestingModule } from '@nestjs/testing';
import type { Cache } from 'cache-manager';
import { types } from 'node:util';
import { Cached, FlightRegistry, SingleFlight } from '@app/single-flight';
import { countStoreTrips } from './support/count-calls.js';
import { latch, settle, type Latch } from './support/latch.js';
import { createTestApp } from './support/test-app.js';

class Incident {
  constructor(
    public id: number,
    public createdAt = new Date(1_700_000_000_000),
    public resolvedAt: Date | null = null,
  ) {}
  label() {
    return `#${this.id}`;
  }
}

/** A loader held behind a latch, counting its calls. */
class Loader {
  calls = 0;
  gate: Latch<void> | undefined;
  signals: (AbortSignal | undefined)[] = [];
  result: (id: number) => unknown = (id) => new Incident(id);
  async load(id: number, signal?: AbortSignal): Promise<unknown> {
    this.calls++;
    this.signals.push(signal);
    await this.gate?.promise;
    return this.result(id);
  }
}

@Injectable()
class IncidentsService {
  loader = new Loader();

  @Cached({ ttl: 60_000 })
  @SingleFlight()
  get(id: number, signal?: AbortSignal): Promise<unknown> {
    return this.loader.load(id, signal);
  }

  @SingleFlight()
  @Cached({ ttl: 60_000 })
  getReversed(id: number): Promise<unknown> {
    return this.loader.load(id);
  }

  @Cached()
  cachedOnly(id: number): Promise<unknown> {
    return this.loader.load(id);
  }

  @SingleFlight()
  flightOnly(id: number): Promise<unknown> {
    return this.loader.load(id);
  }

  @Cached({ key: (query: { id: number; trace: string }) => query.id, namespace: 'incidents' })
  @SingleFlight({ timeout: 20 })
  byQuery(query: { id: number; trace: string }): Promise<unknown> {
    return this.loader.load(query.id);
  }

  @Cached({ freeze: true })
  @SingleFlight()
  frozen(id: number): Promise<unknown> {
    return this.loader.load(id);
  }
}

describe('@Cached + @SingleFlight on a provider (memory store)', () => {
  let app: TestingModule;
  let service: IncidentsService;
  let registry: FlightRegistry;
  let cache: Cache;
  let store: { reads: number; writes: number };

  beforeEach(async () => {
    app = await createTestApp([IncidentsService], { options: { keyPrefix: 'test:' } });
    service = app.get(IncidentsService);
    registry = app.get(FlightRegistry);
    cache = app.get(CACHE_MANAGER);
    store = countStoreTrips(cache);
  });
  afterEach(() => app.close());

  describe.each([1, 10, 100, 1_000, 10_000])('a burst of %i callers on a cold key', (n) => {
    it('costs one cache read, one load and one cache write; every caller gets its own typed copy', async () => {
      service.loader.gate = latch();
      const callers = Array.from({ length: n }, () => service.get(7));
      await settle();
      expect(registry.waiters('test:IncidentsService.get:[7]')).toBe(n);
      expect(store.reads).toBe(1);
      expect(service.loader.calls).toBe(1);
      service.loader.gate.release();
      const results = (await Promise.all(callers)) as Record<string, unknown>[];
      expect(service.loader.calls).toBe(1);
      expect(store).toEqual({ reads: 1, writes: 1 });
      expect(results[0]).toEqual({ id: 7, createdAt: new Date(1_700_000_000_000), resolvedAt: null });
      expect(types.isDate(results[n - 1].createdAt)).toBe(true);
      expect(new Set(results).size).toBe(n);
    });
  });

  it('serves the next call from the cache, with the same shape as the miss', async () => {
    const miss = await service.get(1);
    const hit = await service.get(1);
    expect(service.loader.calls).toBe(1);
    expect(store).toEqual({ reads: 2, writes: 1 });
    expect(hit).toEqual(miss);
    expect(Object.getPrototypeOf(miss)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(hit)).toBe(Object.prototype);
  });

  it('gives every caller a copy it can mutate without leaking into the others or the cache', async () => {
    service.loader.gate = latch();
    const callers = [service.get(1), service.get(1)];
    service.loader.gate.release();
    const [a, b] = (await Promise.all(callers)) as { createdAt: Date; id: number }[];
    a.id = 99;
    a.createdAt.setFullYear(2000);
    expect(b.id).toBe(1);
    expect(((await service.get(1)) as { id: number }).id).toBe(1);
  });

  it('hands later callers pristine copies even when an earlier one changed its own at once, shared references kept', async () => {
    const shared = { tag: 'db' };
    service.loader.result = (id) => ({ id, at: new Date(0), primary: shared, secondary: shared });
    service.loader.gate = latch();
    type Row = { id: number; at: Date; primary: { tag: string }; secondary: { tag: string } };
    const describe = (v: Row) => `${v.id}:${v.at.getTime()}:${v.primary.tag}:${v.primary === v.secondary}`;
    const seen: string[] = [];
    // The first caller changes its value as soon as it has it...
    const first = service.get(1).then((value) => {
      const v = value as Row;
      seen.push(describe(v));
      v.id = 99;
      v.at.setTime(1);
      v.primary.tag = 'changed';
    });
    // ...before these (a signal puts each a step behind) take theirs.
    const later = Array.from({ length: 4 }, () => service.get(1, new AbortController().signal).then((value) => void seen.push(describe(value as Row))));
    await settle();
    service.loader.gate.release();
    await Promise.all([first, ...later]);
    expect(seen).toEqual(Array(5).fill('1:0:db:true'));
  });

  it('hands every caller one deeply frozen value with freeze: true', async () => {
    service.loader.gate = latch();
    const callers = [service.frozen(1), service.frozen(1)];
    service.loader.gate.release();
    const [a, b] = (await Promise.all(callers)) as { id: number }[];
    expect(a).toBe(b);
    expect(Object.isFrozen(a)).toBe(true);
    expect(() => (a.id = 2)).toThrow(TypeError);
    // Later hits reuse the frozen value while the store holds the same entry...
    expect(await service.frozen(1)).toBe(a);
    expect(store.reads).toBe(2);
    // ...and decode afresh once it holds another.
    await cache.del('test:IncidentsService.frozen:[1]');
    service.loader.result = (id) => new Incident(id, new Date(0));
    const reloaded = await service.frozen(1);
    expect(reloaded).toEqual({ id: 1, createdAt: new Date(0), resolvedAt: null });
    expect(Object.isFrozen(reloaded)).toBe(true);
  });

  it('shares one error with every caller, caches nothing, and the next call loads again', async () => {
    service.loader.gate = latch();
    const callers = Array.from({ length: 100 }, () => service.get(3).catch((e: unknown) => e));
    await settle();
    const boom = new Error('database unavailable');
    service.loader.gate.fail(boom);
    expect((await Promise.all(callers)).every((e) => e === boom)).toBe(true);
    expect(store.writes).toBe(0);
    service.loader.gate = undefined;
    await expect(service.get(3)).resolves.toMatchObject({ id: 3 });
    expect(service.loader.calls).toBe(2);
  });

  it('caches null, never undefined', async () => {
    service.loader.result = () => null;
    expect(await service.get(1)).toBeNull();
    expect(await service.get(1)).toBeNull();
    expect(service.loader.calls).toBe(1);
    service.loader.result = () => undefined;
    expect(await service.get(2)).toBeUndefined();
    expect(await service.get(2)).toBeUndefined();
    expect(service.loader.calls).toBe(3);
  });

  it('works the same whichever decorator comes first', async () => {
    service.loader.gate = latch();
    const callers = Array.from({ length: 50 }, () => service.getReversed(1));
    await settle();
    service.loader.gate.release();
    await Promise.all(callers);
    await service.getReversed(1);
    expect(service.loader.calls).toBe(1);
    expect(store).toEqual({ reads: 2, writes: 1 });
  });

  it('without @SingleFlight, concurrent misses each load (what the pair prevents)', async () => {
    service.loader.gate = latch();
    const callers = Array.from({ length: 10 }, () => service.cachedOnly(1));
    await settle();
    service.loader.gate.release();
    await Promise.all(callers);
    expect(service.loader.calls).toBe(10);
  });

  it('without @Cached, coalesces and writes nothing to the cache', async () => {
    service.loader.gate = latch();
    const callers = Array.from({ length: 10 }, () => service.flightOnly(1));
    await settle();
    service.loader.gate.release();
    const results = await Promise.all(callers);
    expect(service.loader.calls).toBe(1);
    expect(store).toEqual({ reads: 0, writes: 0 });
    expect(results[0]).not.toBe(results[1]);
    await service.flightOnly(1);
    expect(service.loader.calls).toBe(2);
  });

  it('keys by the key function and namespace, ignoring the rest of the argument', async () => {
    await service.byQuery({ id: 1, trace: 'a' });
    await service.byQuery({ id: 1, trace: 'b' });
    expect(service.loader.calls).toBe(1);
    expect(await cache.get('test:incidents.byQuery:1')).toMatch(/^sf2\|/);
  });

  it("leaves an AbortSignal out of the key, and hands the loader the flight's signal", async () => {
    service.loader.gate = latch();
    const caller = new AbortController();
    const withSignal = service.get(5, caller.signal);
    const withoutSignal = service.get(5);
    await settle();
    expect(service.loader.calls).toBe(1);
    caller.abort(new Error('gone'));
    await expect(withSignal).rejects.toThrow('gone');
    service.loader.gate.release();
    await expect(withoutSignal).resolves.toMatchObject({ id: 5 });
    expect(service.loader.signals[0]).toBeDefined();
    expect(service.loader.signals[0]).not.toBe(caller.signal);
    expect(service.loader.signals[0]!.aborted).toBe(false);
  });

  it("rejects a caller after the decorator's timeout while the flight completes for the cache", async () => {
    service.loader.gate = latch();
    await expect(service.byQuery({ id: 9, trace: 'x' })).rejects.toMatchObject({ name: 'FlightTimeoutError', kind: 'caller' });
    service.loader.gate.release();
    await settle();
    await settle();
    expect(await service.byQuery({ id: 9, trace: 'y' })).toMatchObject({ id: 9 });
    expect(service.loader.calls).toBe(1);
  });
});

describe('how decorated methods are reached', () => {
  it('keeps the method name and the metadata of other decorators, in either order', () => {
    class Svc {
      @SetMetadata('role', 'reader')
      @Cached()
      async a() {}
      @Cached()
      @SetMetadata('role', 'writer')
      async b() {}
    }
    const reflector = new Reflector();
    expect(Svc.prototype.a.name).toBe('a');
    expect(reflector.get('role', Svc.prototype.a)).toBe('reader');
    expect(reflector.get('role', Svc.prototype.b)).toBe('writer');
  });

  it('calls the method unchanged before the module has started, or on an instance it does not know', async () => {
    const service = new IncidentsService();
    await service.get(1);
    await service.get(1);
    expect(service.loader.calls).toBe(2);
  });

  it('serves inherited methods, keyed by the class of the instance called', async () => {
    @Injectable()
    class BaseRepo {
      loads: string[] = [];
      @Cached()
      @SingleFlight()
      async find(id: number) {
        this.loads.push(`${this.constructor.name}:${id}`);
        return { id };
      }
    }
    @Injectable()
    class UsersRepo extends BaseRepo {}
    @Injectable()
    class AuditedRepo extends BaseRepo {
      override async find(id: number) {
        return super.find(id);
      }
    }
    const app = await createTestApp([BaseRepo, UsersRepo, AuditedRepo]);
    const [base, users, audited] = [app.get(BaseRepo), app.get(UsersRepo), app.get(AuditedRepo)];
    for (let i = 0; i < 2; i++) await Promise.all([base.find(1), users.find(1), audited.find(1)]);
    expect([base.loads, users.loads, audited.loads]).toEqual([['BaseRepo:1'], ['UsersRepo:1'], ['AuditedRepo:1']]);
    await app.close();
  });

  it('serves request-scoped and transient providers: instances of one class share flights and entries', async () => {
    const loads: string[] = [];
    const gate = latch();
    @Injectable({ scope: Scope.REQUEST })
    class PerRequest {
      @Cached()
      @SingleFlight()
      async find(id: number) {
        loads.push('request');
        await gate.promise;
        return { id };
      }
    }
    @Injectable({ scope: Scope.TRANSIENT })
    class PerConsumer {
      @Cached()
      @SingleFlight()
      async find(id: number) {
        loads.push('transient');
        return { id };
      }
    }
    const app = await createTestApp([PerRequest, PerConsumer]);
    const [r1, r2] = await Promise.all([app.resolve(PerRequest, ContextIdFactory.create()), app.resolve(PerRequest, ContextIdFactory.create())]);
    expect(r1).not.toBe(r2);
    const calls = [r1.find(1), r2.find(1)];
    await settle();
    gate.release();
    await Promise.all(calls);
    const [t1, t2] = await Promise.all([app.resolve(PerConsumer), app.resolve(PerConsumer)]);
    await t1.find(1);
    await t2.find(1);
    expect(loads).toEqual(['request', 'transient']);
    await app.close();
  });

  it('keeps two applications in one process apart, and uninstalls itself on close', async () => {
    @Injectable()
    class Svc {
      calls = 0;
      @Cached()
      async get() {
        return ++this.calls;
      }
    }
    const [one, two] = await Promise.all([createTestApp([Svc]), createTestApp([Svc])]);
    expect([await one.get(Svc).get(), await one.get(Svc).get(), await two.get(Svc).get()]).toEqual([1, 1, 1]);
    const instance = one.get(Svc);
    await one.close();
    expect([await instance.get(), await instance.get()]).toEqual([2, 3]);
    await two.close();
  });

  it('runs decorated methods undecorated with enabled: false (the kill switch)', async () => {
    const app = await createTestApp([IncidentsService], { options: { enabled: false } });
    const service = app.get(IncidentsService);
    service.loader.gate = latch();
    const callers = [service.get(1), service.get(1)];
    await settle();
    service.loader.gate.release();
    const [a] = await Promise.all(callers);
    expect(service.loader.calls).toBe(2);
    expect(a).toBeInstanceOf(Incident);
    await app.close();
  });

  it('opens no Redis connection with enabled: false, though `redis` is given (nothing would use it)', async () => {
    const { Redis } = await import('ioredis');
    const { REDIS_URL } = await import('./support/redis-cache.js');
    // The application's own client: the module connects only the subscriber it duplicates from it.
    const subscribersWith = async (enabled: boolean) => {
      const client = new Redis(REDIS_URL, { lazyConnect: true });
      const duplicate = jest.spyOn(client, 'duplicate');
      const app = await createTestApp([IncidentsService], { options: { enabled, redis: client } });
      const opened = duplicate.mock.results.filter(({ value }) => (value as { status: string }).status !== 'wait').length;
      await app.close();
      client.disconnect();
      return { made: duplicate.mock.calls.length, opened };
    };
    expect(await subscribersWith(true)).toEqual({ made: 1, opened: 1 });
    expect(await subscribersWith(false)).toEqual({ made: 0, opened: 0 });
  });

  it('with enabled: false, a distributed method starts without a Redis connection and runs plainly', async () => {
    @Injectable()
    class Reports {
      calls = 0;
      @Cached({ ttl: 60_000 })
      @SingleFlight({ distributed: true })
      async build() {
        return ++this.calls;
      }
    }
    const app = await createTestApp([Reports], { options: { enabled: false, redis: 'redis://127.0.0.1:6379' } });
    const reports = app.get(Reports);
    expect([await reports.build(), await reports.build()]).toEqual([1, 2]);
    await app.close();
  });

  it('takes its options from forRootAsync', async () => {
    const { CacheModule } = await import('@nestjs/cache-manager');
    const { Test } = await import('@nestjs/testing');
    const { SingleFlightModule } = await import('@app/single-flight');
    const app = await Test.createTestingModule({
      imports: [CacheModule.register({ isGlobal: true }), SingleFlightModule.forRootAsync({ useFactory: async () => ({ keyPrefix: 'async:' }) })],
      providers: [IncidentsService],
    }).compile();
    await app.init();
    await app.get(IncidentsService).get(1);
    expect(await app.get<Cache>(CACHE_MANAGER).get('async:IncidentsService.get:[1]')).toBeDefined();
    await app.close();
  });
});
