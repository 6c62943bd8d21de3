import { randomUUID } from 'node:crypto';
import { startFleetProcess, type FleetProcess, type FleetProcessOptions } from './support/fleet.js';
import { dropNamespace } from './support/redis-cache.js';

// The harness itself, on the current library: separate Nest processes sharing the real Redis.
describe('fleet: application processes sharing the real Redis', () => {
  const namespace = `sf-fleet-${randomUUID()}`;
  const fleet: FleetProcess[] = [];
  let a: FleetProcess;
  let b: FleetProcess;
  let tiered: FleetProcess;

  const start = async (options: FleetProcessOptions) => {
    const child = await startFleetProcess(options);
    fleet.push(child);
    return child;
  };
  const read = async (child: FleetProcess, key: string) => (await child.call(key)).result;
  const loadsOf = (child: FleetProcess, key: string) => child.loadEvents().filter((load) => load.key === key);

  beforeAll(async () => {
    [a, b, tiered] = await Promise.all([start({ namespace }), start({ namespace }), start({ namespace, layout: 'memory+redis' })]);
  });
  afterAll(async () => {
    try {
      await Promise.all(fleet.map((child) => child.close()));
    } finally {
      await dropNamespace(namespace);
    }
  });

  it('a value loaded in one process is a hit in another', async () => {
    const loaded = await read(a, 'shared');
    expect(await read(b, 'shared')).toEqual(loaded);
    expect(loadsOf(a, 'shared')).toEqual([{ loadId: loaded.loadId, key: 'shared', version: 0 }]);
    expect(loadsOf(b, 'shared')).toEqual([]);
  });

  it('a read that starts after an update resolved in another process loads the new version', async () => {
    expect(await read(a, 'updated')).toMatchObject({ version: 0 });
    expect(await read(b, 'updated')).toMatchObject({ version: 0 });
    expect(loadsOf(b, 'updated')).toEqual([]);

    const { done } = await a.update('updated');
    expect(await done).toBe(1);
    const after = await read(b, 'updated');
    expect(after).toMatchObject({ version: 1 });
    expect(loadsOf(b, 'updated')).toEqual([{ loadId: after.loadId, key: 'updated', version: 1 }]);
  });

  it('holds a load: two concurrent calls of one key in one process share it', async () => {
    await b.hold(true);
    try {
      const before = b.loadEvents().length;
      const first = await b.call('held');
      await b.waitForLoads(before + 1);
      const second = await b.call('held');
      let settled = false;
      const markSettled = () => (settled = true);
      void first.result.then(markSettled, markSettled);
      await b.stats(); // a round trip: a result sent before it would have arrived by now
      expect(settled).toBe(false);

      const [load] = loadsOf(b, 'held');
      await b.hold(false);
      await b.release(load.loadId);
      expect(await first.result).toEqual({ key: 'held', version: 0, loadId: load.loadId });
      expect(await second.result).toEqual(await first.result);
      expect(loadsOf(b, 'held')).toHaveLength(1);
    } finally {
      await b.hold(false);
      await b.release('all');
    }
  });

  it("the 'memory+redis' layout serves a hit, writes through to Redis, and expire() forces a load", async () => {
    const loaded = await read(tiered, 'tiered');
    expect(await read(tiered, 'tiered')).toEqual(loaded);
    expect(await read(a, 'tiered')).toEqual(loaded);
    expect(loadsOf(tiered, 'tiered')).toHaveLength(1);
    expect(loadsOf(a, 'tiered')).toEqual([]);

    await tiered.expire('tiered');
    const reloaded = await read(tiered, 'tiered');
    expect(reloaded.loadId).not.toBe(loaded.loadId);
    expect(loadsOf(tiered, 'tiered')).toHaveLength(2);
  });
});
