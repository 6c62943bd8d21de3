import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { CacheEvict, Cached, SingleFlight } from '@app/single-flight';
import { countStoreTrips } from './support/count-calls.js';
import { startFleetProcess, type FleetProcess, type FleetProcessOptions } from './support/fleet.js';
import { latch, until, type Latch } from './support/latch.js';
import { dropNamespace, redisKeyv } from './support/redis-cache.js';
import { createTestApp } from './support/test-app.js';

// Eviction wins in every process and every store layout: separate application processes on the real Redis.
describe('eviction wins across processes', () => {
  const namespace = `sf-evict-${randomUUID()}`;
  const fleet: FleetProcess[] = [];
  const start = async (options: Omit<FleetProcessOptions, 'namespace'> = {}) => {
    const child = await startFleetProcess({ namespace, ...options });
    fleet.push(child);
    return child;
  };
  const read = async (child: FleetProcess, key: string) => (await child.call(key)).result;

  afterAll(async () => {
    try {
      await Promise.all(fleet.map((child) => child.close()));
    } finally {
      await dropNamespace(namespace);
    }
  });

  it('tiered stores (memory in front of Redis): an invalidation in one process is seen by the other, whose memory tier held the old token and entry', async () => {
    const [a, b] = await Promise.all([start({ layout: 'memory+redis' }), start({ layout: 'memory+redis' })]);
    // B invalidates the tag itself, then caches version 1 in its memory tier and in Redis.
    await (await b.update('x')).done;
    expect(await read(b, 'x')).toMatchObject({ version: 1 });
    expect(await read(b, 'x')).toMatchObject({ version: 1 });
    // A writes version 2 and invalidates; its update has resolved.
    expect(await (await a.update('x')).done).toBe(2);
    expect(await read(b, 'x')).toMatchObject({ version: 2 });
    expect(await read(a, 'x')).toMatchObject({ version: 2 });
  });

  it('a caller that starts in B after an eviction resolved in A does not get the value of a flight B started before it', async () => {
    const [a, b] = await Promise.all([start(), start()]);
    await b.hold(true);
    const before = await b.call('y'); // B's flight: loads version 0, held
    await b.waitForLoads(1);
    expect(await (await a.update('y')).done).toBe(1); // A's eviction has resolved
    const after = await b.call('y'); // starts now: it would have joined B's flight
    await b.hold(false);
    await b.release('all');
    expect(await before.result).toMatchObject({ version: 0 }); // it started before the eviction: allowed
    expect(await after.result).toMatchObject({ version: 1 });
    expect(b.loadEvents().map((load) => load.version)).toEqual([0, 1]);
  });
});

let version = 1;
let loads = 0;
let gate: Latch | undefined;

@Injectable()
class Items {
  @Cached({ ttl: 60_000, tags: (id: string) => [`item:${id}`] })
  @SingleFlight()
  async get(id: string) {
    const seen = version;
    loads++;
    await gate?.promise;
    return { id, version: seen };
  }

  @CacheEvict({ tags: (_: string, id: string) => [`item:${id}`] })
  async update(id: string) {
    version++;
    return id;
  }
}

describe('what a late joiner costs', () => {
  const namespace = `sf-late-${randomUUID()}`;
  let apps: TestingModule[] = [];
  afterEach(async () => {
    await Promise.all(apps.map((app) => app.close()));
    apps = [];
    await dropNamespace(namespace);
  });

  it('50 callers joining a flight whose tag another instance evicted cost one token re-read and one new flight, not one read each', async () => {
    // Two application instances on one Redis, as two processes would be (each its own registry and executor).
    apps = await Promise.all([createTestApp([Items], { stores: [redisKeyv(namespace)] }), createTestApp([Items], { stores: [redisKeyv(namespace)] })]);
    const [a, b] = apps.map((app) => app.get(Items));
    await b.get('z'); // creates the tag's token and caches version 1
    await a.update('z'); // version 2
    const trips = countStoreTrips(apps[1].get(CACHE_MANAGER));
    loads = 0;
    gate = latch();
    const first = b.get('z'); // B's flight: a miss, loads version 2, held
    await until(() => loads === 1);
    await a.update('z'); // version 3, evicted by A
    const late = Array.from({ length: 50 }, () => b.get('z'));
    gate.release();
    gate = undefined;
    expect(await first).toEqual({ id: 'z', version: 2 });
    expect(new Set((await Promise.all(late)).map((item) => item.version))).toEqual(new Set([3]));
    expect(loads).toBe(2);
    // The flight's read, its one re-read for the late joiners, and the new flight's read.
    expect(trips.reads).toBe(3);
  });
});

/**
 * The same rule in random schedules across two processes on the real Redis: calls, updates,
 * expiries and releases of held loads in random orders (the store's own order is Redis's).
 * FLEET_SCHEDULES=10000 runs more (npm run test:schedules).
 */
describe('eviction wins across processes, in random schedules', () => {
  const SCHEDULES = Number(process.env.FLEET_SCHEDULES ?? 1_000);
  const namespace = `sf-fleet-schedules-${randomUUID()}`;
  let fleet: FleetProcess[] = [];
  beforeAll(async () => {
    fleet = await Promise.all([startFleetProcess({ namespace }), startFleetProcess({ namespace, layout: 'memory+redis' })]);
    await Promise.all(fleet.map((child) => child.hold(true)));
  });
  afterAll(async () => {
    try {
      await Promise.all(fleet.map((child) => child.close()));
    } finally {
      await dropNamespace(namespace);
    }
  });

  type Step = { op: 'call' | 'update' | 'expire'; p: number; key: number } | { op: 'release'; p: number; index: number } | { op: 'quiesce' };
  const p = fc.integer({ min: 0, max: 1 });
  const key = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) });
  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant('call' as const), p, key }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('update' as const), p, key }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('expire' as const), p, key }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('release' as const), p, index: fc.nat({ max: 10 }) }) },
    { weight: 1, arbitrary: fc.constant({ op: 'quiesce' as const }) },
  );
  let run = 0;

  it(`no call that starts after an eviction resolved in either process returns a value loaded before it (${SCHEDULES} schedules)`, async () => {
    // Loads each child holds now: those it reported, less those released.
    const held = fleet.map(() => new Set<number>());
    const seen = fleet.map(() => 0);
    const heldIn = (child: number) => {
      const events = fleet[child].loadEvents();
      for (; seen[child] < events.length; seen[child]++) held[child].add(events[seen[child]].loadId);
      return [...held[child]];
    };
    const release = async (child: number, loadId: number) => {
      held[child].delete(loadId);
      await fleet[child].release(loadId);
    };
    const quiesce = async (done: Promise<unknown>) => {
      let finished = false;
      void done.then(() => (finished = true), () => (finished = true));
      // Bounded in time, not rounds: on a loaded machine a child may take a while to answer.
      const deadline = Date.now() + 15_000;
      while (!finished) {
        if (Date.now() > deadline) throw new Error(`the schedule did not finish within 15 s; still held: ${JSON.stringify(fleet.map((_, child) => heldIn(child)))}`);
        for (let child = 0; child < fleet.length; child++) for (const loadId of heldIn(child)) await release(child, loadId);
        await Promise.all(fleet.map((child) => child.stats())); // a round trip: results sent before it have arrived
      }
    };
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 20 }), async (steps) => {
        const names = [`r${++run}k0`, `r${run}k1`];
        const evicted = [0, 0];
        const pending: Promise<unknown>[] = [];
        const stale: string[] = [];
        for (const s of steps) {
          if (s.op === 'call') {
            const required = evicted[s.key];
            const { result } = await fleet[s.p].call(names[s.key]);
            pending.push(result.then(({ version }) => void (version < required && stale.push(`${names[s.key]}: version ${version} after ${required}`))));
          } else if (s.op === 'update') {
            const { done } = await fleet[s.p].update(names[s.key]);
            pending.push(done.then((version) => (evicted[s.key] = Math.max(evicted[s.key], version))));
          } else if (s.op === 'expire') {
            await fleet[s.p].expire(names[s.key]);
          } else if (s.op === 'release') {
            const loads = heldIn(s.p);
            if (loads.length) await release(s.p, loads[s.index % loads.length]);
          } else {
            await quiesce(Promise.all(pending));
          }
        }
        await quiesce(Promise.all(pending));
        expect(stale).toEqual([]);
      }),
      { numRuns: SCHEDULES },
    );
  }, 30_000 + SCHEDULES * 10);
});
