import { Injectable, type Type } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { Keyv } from 'keyv';
import * as api from '@app/single-flight';
import { CacheEvict, Cached, SingleFlight } from '@app/single-flight';
import { CachedExecutor } from '../src/cached-executor.js';
import { captureWarnings } from './support/captured-logs.js';
import { installFakeClock } from './support/fake-clock.js';
import { FakeKeyvStore } from './support/fake-keyv-store.js';
import { latch, settle, until } from './support/latch.js';
import { createTestApp } from './support/test-app.js';

/**
 * A store error fails only its own operation (13), forced invalidation writes leave the breaker's
 * half-open probe alone (14), and a `@CacheEvict` whose tags cannot all be computed still
 * invalidates what it can and says so (15).
 */

const warnings = captureWarnings();

@Injectable()
class Incidents {
  loads: number[] = [];
  version = 1;

  @Cached()
  @SingleFlight()
  async get(id: number): Promise<{ id: number; at: Date }> {
    this.loads.push(id);
    return { id, at: new Date(0) };
  }

  @Cached({ tags: ['incidents'] })
  @SingleFlight()
  async list(): Promise<{ version: number }> {
    this.loads.push(-1);
    return { version: this.version };
  }

  @CacheEvict({ tags: ['incidents'] })
  async create(): Promise<string> {
    this.version++;
    return 'created';
  }

  // The tags functions below are broken on purpose: each runs after the write it follows.

  @CacheEvict({
    tags: () => {
      throw new Error('tags bug');
    },
  })
  async close(id: number): Promise<{ id: number; closed: true }> {
    this.version++;
    return { id, closed: true };
  }

  @CacheEvict({ tags: (() => ({ incidents: true })) as never })
  async reopen(id: number): Promise<{ id: number; reopened: true }> {
    this.version++;
    return { id, reopened: true };
  }

  // `(id) => ...` where `(result, id) => ...` was meant: the result (an object) becomes a string.
  @CacheEvict({ tags: (result: unknown) => ['incidents', `incident:${result}`] })
  async assign(id: number): Promise<{ id: number; assignee: string }> {
    this.version++;
    return { id, assignee: 'ana' };
  }
}

/** Evicting methods whose tag lists mix strings and functions: defined when a test needs them. */
function defineIncidentWriter() {
  @Injectable()
  class IncidentWriter {
    constructor(private readonly incidents: Incidents) {}

    @CacheEvict({
      tags: [
        'incidents',
        (_: { id: number }, id: number) => {
          throw new Error(`no tag for incident ${id}`);
        },
      ],
    })
    async update(id: number): Promise<{ id: number; updated: true }> {
      this.incidents.version++;
      return { id, updated: true };
    }

    @CacheEvict({ tags: ['incidents', (() => 42) as never] })
    async archive(id: number): Promise<{ id: number; archived: true }> {
      this.incidents.version++;
      return { id, archived: true };
    }
  }
  return IncidentWriter;
}

const appWith = (store: FakeKeyvStore, options: api.SingleFlightModuleOptions = {}, providers: Type[] = []) =>
  createTestApp([Incidents, ...providers], { stores: [new Keyv({ store })], options: { storeTimeout: 5_000, ...options } });

const sharedBreaker = (app: TestingModule) => app.get(CachedExecutor).layout?.sharedBreaker;

// ---------------------------------------------------------------------------------------------

describe('13. a store error fails only the operation it belongs to', () => {
  it('of 100 concurrent calls with cached keys, the one whose read fails loads and the 99 others are served from the cache; the breaker counts exactly 1 failure and stays closed', async () => {
    const store = new FakeKeyvStore();
    const app = await appWith(store);
    const service = app.get(Incidents);
    const ids = Array.from({ length: 100 }, (_, i) => i);
    await Promise.all(ids.map((id) => service.get(id)));
    expect(service.loads).toHaveLength(100);
    service.loads = [];

    // One read fails; all 100 reads reach the store before any is answered.
    store.failReadsOf = (key) => key.endsWith('sf:Incidents.get:[42]');
    store.holdReads = latch();
    const calls = ids.map((id) => service.get(id));
    await until(() => store.heldReads === 100);
    store.holdReads.release();
    const results = await Promise.all(calls);

    expect(results).toEqual(ids.map((id) => ({ id, at: new Date(0) })));
    expect(service.loads).toEqual([42]);
    const breaker = sharedBreaker(app);
    expect(breaker).toBeDefined();
    expect(breaker!.failures).toBe(1);
    expect(breaker!.isOpen).toBe(false);
    expect(warnings.filter((w) => /Cache read failed/.test(w))).toHaveLength(1);
    await app.close();
  });
});

// ---------------------------------------------------------------------------------------------

describe('14. forced invalidation writes neither take nor end the half-open probe', () => {
  let clock: ReturnType<typeof installFakeClock>;
  let store: FakeKeyvStore;
  let app: TestingModule;
  let service: Incidents;

  /** An application whose circuit is open (one failed read) and whose resetTimeout has elapsed. */
  beforeEach(async () => {
    clock = installFakeClock();
    store = new FakeKeyvStore();
    app = await appWith(store, { circuitBreaker: { failureThreshold: 1, resetTimeout: 1_000 } });
    service = app.get(Incidents);
    store.mode = 'throw';
    await service.get(1);
    expect(warnings.some((w) => /circuit open/.test(w))).toBe(true);
    clock.advance(1_000);
  });
  afterEach(async () => {
    store.holdReads?.release();
    clock.restore();
    await app.close();
  });

  it('an invalidation made while the circuit is open is queued at once; its retries are forced writes that fail without taking the probe or reopening the circuit: the next normal operation is the probe, and closes the circuit', async () => {
    const writes = store.writes;
    await expect(service.create()).resolves.toBe('created'); // queued: no waiting for a store known to be down
    expect(store.writes).toBe(writes);
    expect(warnings.some((w) => /^Cache invalidation of tag "incidents" not written/.test(w))).toBe(true);
    await until(() => store.writes > writes); // a retry, failing

    store.mode = 'ok';
    const reads = store.reads;
    await service.get(2); // the probe
    expect(store.reads).toBe(reads + 1);
    await service.get(2);
    expect(service.loads.filter((id) => id === 2)).toHaveLength(1); // a hit: the store is in use again

    const breaker = sharedBreaker(app)!;
    expect(breaker.isOpen).toBe(false);
    expect(breaker.failures).toBe(1); // the read that opened it; the forced retries are not counted
  });

  it('a forced retry that succeeds while half-open does not close the circuit: the next normal operation is the one probe, and others are still skipped until it answers', async () => {
    store.mode = 'ok';
    const writes = store.writes;
    await expect(service.create()).resolves.toBe('created');
    const { retries } = app.get(CachedExecutor).tags;
    await until(() => retries.size === 0); // the queued invalidation, written by a forced retry
    expect(store.writes).toBe(writes + 1);

    store.holdReads = latch();
    const reads = store.reads;
    const probe = service.get(3);
    let otherDone = false;
    const other = service.get(4).then((value) => ((otherDone = true), value));
    await settle();
    expect(store.reads).toBe(reads + 1); // only the probe reached the store
    expect(otherDone).toBe(true); // the other call was a miss without the store
    expect(sharedBreaker(app)!.isOpen).toBe(true);

    store.holdReads.release();
    store.holdReads = undefined;
    await expect(Promise.all([probe, other])).resolves.toEqual([{ id: 3, at: new Date(0) }, { id: 4, at: new Date(0) }]);
    expect(sharedBreaker(app)!.isOpen).toBe(false);
    expect(sharedBreaker(app)!.failures).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------

describe('15. a @CacheEvict whose tags cannot all be computed rejects with InvalidationError after invalidating what it could', () => {
  let app: TestingModule;
  let service: Incidents;
  afterEach(() => app?.close());

  const start = async (providers: Type[] = []) => {
    app = await appWith(new FakeKeyvStore(), {}, providers);
    service = app.get(Incidents);
    expect(await service.list()).toEqual({ version: 1 });
    expect(await service.list()).toEqual({ version: 1 }); // cached under 'incidents'
  };

  /** The rejection of `call`, checked to be an InvalidationError for `where` carrying `result`. */
  async function invalidationError(call: Promise<unknown>, where: string, result: unknown): Promise<Error & { result: unknown; invalidated: string[] }> {
    const error = (await call.then(
      () => undefined,
      (e: unknown) => e,
    )) as Error & { result: unknown; invalidated: string[] };
    expect(error).toBeDefined();
    expect(error.name).toBe('InvalidationError');
    expect(error.message).toMatch(new RegExp(`^${where.replace('.', '\\.')}: the method succeeded, but its cache invalidation failed`));
    expect(error.result).toEqual(result);
    expect(error).toBeInstanceOf(api.InvalidationError);
    return error;
  }

  const listLoads = () => service.loads.filter((id) => id === -1).length;

  it('a tags function that throws: the call rejects with InvalidationError naming Class.method, saying the method succeeded, with its result on .result and the thrown error as cause', async () => {
    await start();
    const error = await invalidationError(service.close(7), 'Incidents.close', { id: 7, closed: true });
    expect(error.message).toMatch(/tags bug/);
    expect((error.cause as Error).message).toBe('tags bug');
    expect(error.invalidated).toEqual([]);
    expect(service.version).toBe(2); // the write happened, once
  });

  it('a tags function that returns a non-array: the call rejects with InvalidationError, with the method\'s result on .result', async () => {
    await start();
    const error = await invalidationError(service.reopen(7), 'Incidents.reopen', { id: 7, reopened: true });
    expect(error.message).toMatch(/not a tag or an array of tags/);
    expect(service.version).toBe(2);
  });

  it('a tag like "incident:[object Object]" rejects with InvalidationError, and the good tags the function returned (incidents) are invalidated', async () => {
    await start();
    const error = await invalidationError(service.assign(7), 'Incidents.assign', { id: 7, assignee: 'ana' });
    expect(error.message).toMatch(/incident:\[object Object\]/);
    expect(error.invalidated).toEqual(['incidents']);
    expect(await service.list()).toEqual({ version: 2 }); // reloaded
    expect(listLoads()).toBe(2);
  });

  it('in a mixed tag list, a tag function that throws: InvalidationError, and the static tags of the list (incidents) are invalidated', async () => {
    const IncidentWriter = defineIncidentWriter();
    await start([IncidentWriter]);
    const error = await invalidationError(app.get(IncidentWriter).update(7), 'IncidentWriter.update', { id: 7, updated: true });
    expect(error.message).toMatch(/no tag for incident 7/);
    expect(error.message).toMatch(/Invalidated \(or queued for retry, if the store is down\): incidents;/);
    expect(error.invalidated).toEqual(['incidents']);
    expect(await service.list()).toEqual({ version: 2 }); // reloaded after the failed evict
    expect(listLoads()).toBe(2);
  });

  it('in a mixed tag list, a tag function that returns a non-array: InvalidationError, and the static tags of the list (incidents) are invalidated', async () => {
    const IncidentWriter = defineIncidentWriter();
    await start([IncidentWriter]);
    const error = await invalidationError(app.get(IncidentWriter).archive(7), 'IncidentWriter.archive', { id: 7, archived: true });
    expect(error.invalidated).toEqual(['incidents']);
    expect(await service.list()).toEqual({ version: 2 });
    expect(listLoads()).toBe(2);
  });

  it('tags that can all be computed: the call resolves with the result (no InvalidationError)', async () => {
    await start();
    await expect(service.create()).resolves.toBe('created');
    expect(await service.list()).toEqual({ version: 2 });
  });
});
