import { CacheModule } from '@nestjs/cache-manager';
import { Injectable } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import fc from 'fast-check';
import { Keyv } from 'keyv';
import { CacheEvict, Cached, FlightRegistry, SingleFlight, SingleFlightModule } from '@app/single-flight';
import { latch, settle, type Latch } from './support/latch.js';
import { ScheduledStore } from './support/scheduled-store.js';

/**
 * Eviction wins, in every order: random schedules of loads, evictions, expiries and store
 * round trips, in two application instances sharing one store (as two processes share a Redis),
 * each with or without a memory tier in front of it. Every store operation takes effect only when
 * the schedule delivers it, and every load waits until the schedule releases it. The rule checked:
 * a call that starts after an eviction resolved never returns a value loaded before it.
 * EVICTION_SCHEDULES=10000 npm test -- eviction-schedules (npm run test:schedules) runs more.
 */
const SCHEDULES = Number(process.env.EVICTION_SCHEDULES ?? 3_000);

const database = new Map<string, number>();
const heldLoads: Latch[] = [];

@Injectable()
class Items {
  @Cached({ ttl: 60_000, tags: (key: string) => ['all', `item:${key}`] })
  @SingleFlight()
  async get(key: string): Promise<{ key: string; version: number }> {
    const version = database.get(key) ?? 0; // the database is read when the load begins
    const gate = latch();
    heldLoads.push(gate);
    await gate.promise;
    return { key, version };
  }

  @CacheEvict({ tags: (_: number, key: string) => [`item:${key}`] })
  async update(key: string): Promise<number> {
    const version = (database.get(key) ?? 0) + 1;
    database.set(key, version);
    return version;
  }

  @CacheEvict({ tags: ['all'] })
  async updateAll(keys: string[]): Promise<number[]> {
    return keys.map((key) => {
      database.set(key, (database.get(key) ?? 0) + 1);
      return database.get(key)!;
    });
  }
}

type Command =
  | { op: 'call'; app: number; key: number }
  | { op: 'update'; app: number; key: number }
  | { op: 'updateAll'; app: number }
  | { op: 'release'; index: number }
  | { op: 'deliver'; index: number }
  | { op: 'expire'; key: number }
  | { op: 'dropToken'; key: number }
  | { op: 'quiesce' };

const KEYS = 2;
const app = fc.integer({ min: 0, max: 1 });
// Biased towards one key and towards delivering in order, where the interesting races are.
const key = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: KEYS - 1 }) });
const index = fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat({ max: 20 }) });
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('call' as const), app, key }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('update' as const), app, key }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('updateAll' as const), app }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('release' as const), index }) },
  { weight: 8, arbitrary: fc.record({ op: fc.constant('deliver' as const), index }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('expire' as const), key }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('dropToken' as const), key }) },
  // Everything in the air lands: the states between bursts, where stale entries would wait.
  { weight: 2, arbitrary: fc.constant({ op: 'quiesce' as const }) },
);

/** Delivers every store operation and releases every load until `done` has settled. */
async function quiesce(store: ScheduledStore, done: Promise<unknown>): Promise<void> {
  let finished = false;
  void done.then(() => (finished = true), () => (finished = true));
  for (let round = 0; !finished; round++) {
    if (round > 10_000) throw new Error('the schedule did not finish: a call is waiting for itself');
    while (store.deliver(0));
    while (heldLoads.length) heldLoads.shift()!.release();
    await settle();
  }
}

describe.each([
  ['one shared store', false],
  ['a memory tier in front of the shared store', true],
])('eviction wins in random schedules: two instances, %s', (_, tiered) => {
  const shared = new ScheduledStore();
  let apps: TestingModule[];
  let fronts: Keyv[];
  let run = 0;

  beforeAll(async () => {
    fronts = [new Keyv(), new Keyv()];
    apps = await Promise.all(
      fronts.map(async (front) => {
        const stores = [...(tiered ? [front] : []), new Keyv({ store: shared, namespace: 'schedules' })];
        const moduleRef = await Test.createTestingModule({
          imports: [CacheModule.register({ isGlobal: true, stores }), SingleFlightModule.forRoot({ keyPrefix: 'sf:' })],
          providers: [Items],
        }).compile();
        return moduleRef.init();
      }),
    );
  });
  afterAll(() => Promise.all(apps.map((a) => a.close())));

  it(`no call that starts after an eviction resolved returns a value loaded before it (${SCHEDULES} schedules)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 40 }), async (commands) => {
        const names = Array.from({ length: KEYS }, (_, k) => `r${++run}k${k}`);
        /** Per key, the newest version whose eviction has resolved: what a call starting now must see at least. */
        const evicted = names.map(() => 0);
        const calls: Promise<void>[] = [];
        const stale: string[] = [];
        const writes: Promise<unknown>[] = [];
        const items = apps.map((a) => a.get(Items));

        for (const c of commands) {
          switch (c.op) {
            case 'call': {
              const required = evicted[c.key];
              calls.push(items[c.app].get(names[c.key]).then(({ version }) => {
                if (version < required) stale.push(`${names[c.key]}: got version ${version} after the eviction of version ${required} resolved`);
              }));
              break;
            }
            case 'update':
              writes.push(items[c.app].update(names[c.key]).then((v) => (evicted[c.key] = Math.max(evicted[c.key], v))));
              break;
            case 'updateAll':
              writes.push(items[c.app].updateAll(names).then((vs) => vs.forEach((v, k) => (evicted[k] = Math.max(evicted[k], v)))));
              break;
            case 'release':
              if (heldLoads.length) heldLoads.splice(c.index % heldLoads.length, 1)[0].release();
              break;
            case 'deliver':
              shared.deliver(c.index);
              break;
            case 'expire': {
              const entry = `sf:Items.get:${JSON.stringify([names[c.key]])}`;
              shared.data.delete(`schedules:${entry}`);
              for (const front of fronts) await front.delete(entry);
              break;
            }
            case 'dropToken':
              shared.data.delete(`schedules:sf:#tag:item:${names[c.key]}`);
              break;
            case 'quiesce':
              await quiesce(shared, Promise.all([...calls, ...writes]));
              break;
          }
          await settle();
        }
        // Let everything finish: every store operation delivered, every load released.
        const done = Promise.all([...calls, ...writes]);
        await quiesce(shared, done);
        await done;
        expect(stale).toEqual([]);
        expect(apps.map((a) => a.get(FlightRegistry).size)).toEqual([0, 0]);
      }),
      { numRuns: SCHEDULES },
    );
  }, 30_000 + SCHEDULES * 5);
});
