import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFleetProcess, type BurstOutcome, type FleetProcess, type FleetProcessOptions } from './support/fleet.js';
import { until } from './support/latch.js';
import { freePort, PrivateRedis, REDIS_BIN } from './support/private-redis.js';
import { dropNamespace, REDIS_URL } from './support/redis-cache.js';

// Fleet-wide flights (`distributed`) between real application processes, each with its own Redis
// connections, leases and bus subscription (fleet-flights.spec.ts is the in-process version).
// Every wait is bounded; the loader's "database" is a counter in the shared Redis.

/** A short lease, so a dead holder is taken over quickly. */
const LEASE = 1_000;

/** Whether `child` asked for the lease of a call of `key` and was refused (another process held it). */
const refused = (child: FleetProcess, key: string) => child.leaseEvents().some((lease) => !lease.taken && lease.lease.endsWith(`:${JSON.stringify([key])}`));
const loadsOf = (fleet: FleetProcess[], key: string) => fleet.flatMap((child) => child.loadEvents().filter((load) => load.key === key));

/** Every child's stats at once: a round trip to each, so events each sent before it have arrived. */
const statsOf = (fleet: FleetProcess[]) => Promise.all(fleet.map((child) => child.stats()));
/** Starts `count` processes into `fleet` (those that started are there to close even if one failed); waits for their bus and Redis link. */
async function startFleet(fleet: FleetProcess[], count: number, options: FleetProcessOptions): Promise<void> {
  const started = await Promise.allSettled(Array.from({ length: count }, () => startFleetProcess(options)));
  for (const s of started) if (s.status === 'fulfilled') fleet.push(s.value);
  for (const s of started) if (s.status === 'rejected') throw s.reason;
  await Promise.all(fleet.map((child) => child.waitForFleet()));
}
const sum = (values: number[]) => values.reduce((x, y) => x + y, 0);

describe('fleet-wide flights across processes (the real Redis)', () => {
  const namespace = `sf-fproc-${randomUUID()}`;
  const prefixSpace = `sf-fproc-${randomUUID().slice(0, 8)}`; // its own bus channel, its lease keys under a name of their own
  const fleet: FleetProcess[] = [];

  beforeAll(async () => {
    // distributed: true as the module default, for Items.get's plain @SingleFlight().
    const options: FleetProcessOptions = { namespace, keyPrefix: `${prefixSpace}:`, moduleOptions: { redis: REDIS_URL, distributed: true, lease: LEASE } };
    await startFleet(fleet, 4, options);
  }, 30_000);

  afterAll(async () => {
    try {
      await Promise.all(fleet.map((child) => child.close()));
    } finally {
      await dropNamespace(namespace);
      await dropNamespace(prefixSpace);
    }
  });

  it('4 processes x 250 concurrent callers on a cold key: 1 load and 1 entry write in the whole fleet; all 1,000 get the value', async () => {
    await Promise.all(fleet.map((child) => child.hold(true)));
    try {
      const before = await statsOf(fleet);
      // All 250 calls of a process start on one command; the four commands go out together.
      const bursts = await Promise.all(fleet.map((child) => child.burst({ keys: ['cold'], count: 250 })));
      // One process took the lease and is loading (held); every other one asked for the lease and was
      // refused, so waits: the load is released only once all four are in the flight.
      await until(() => loadsOf(fleet, 'cold').length === 1 && fleet.filter((child) => refused(child, 'cold')).length === fleet.length - 1, 5_000);
      const holder = fleet.find((child) => child.loadEvents().some((load) => load.key === 'cold'))!;
      expect(refused(holder, 'cold')).toBe(false);
      await Promise.all(fleet.map((child) => child.hold(false)));
      await holder.release(loadsOf([holder], 'cold')[0].loadId);
      const outcomes = await Promise.all(bursts.map(({ outcome }) => outcome));
      const after = await statsOf(fleet);

      const loads = loadsOf(fleet, 'cold');
      expect(loads).toHaveLength(1);
      const value = { key: 'cold', version: 0, loadId: loads[0].loadId };
      for (const outcome of outcomes) expect(outcome).toEqual({ calls: 250, values: [{ value, count: 250 }], failures: [] });
      expect(sum(after.map((s, i) => s.loads - before[i].loads))).toBe(1);
      expect(sum(after.map((s, i) => s.entryWrites - before[i].entryWrites))).toBe(1);
    } finally {
      await Promise.all(fleet.map(async (child) => (await child.hold(false), await child.release('all'))));
    }
  });

  it('stale-while-revalidate across 4 processes: every caller gets the stale value at once, and 1 refresh runs for the whole fleet', async () => {
    const key = 'stale';
    await fleet[0].burst({ method: 'revalidated', keys: [key], count: 1 }).then(({ outcome }) => outcome);
    const first = loadsOf(fleet, key);
    expect(first).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // past its 1 s ttl
    await Promise.all(fleet.map((child) => child.hold(true)));
    let written = 0;
    try {
      // Every caller in every process is answered while the one refresh is held.
      const outcomes = await Promise.all(fleet.map((child) => child.burst({ method: 'revalidated', keys: [key], count: 100 }).then(({ outcome }) => outcome)));
      const stale = { key, version: 0, loadId: first[0].loadId };
      for (const outcome of outcomes) expect(outcome).toEqual({ calls: 100, values: [{ value: stale, count: 100 }], failures: [] });
      // One process refreshes under the lease; the other three refreshes wait for its entry.
      await until(() => loadsOf(fleet, key).length === 2 && fleet.filter((child) => refused(child, key)).length === fleet.length - 1, 5_000);
    } finally {
      written = sum((await statsOf(fleet)).map((s) => s.entryWrites));
      await Promise.all(fleet.map(async (child) => (await child.hold(false), await child.release('all'))));
    }
    const refresh = loadsOf(fleet, key)[1];
    // Once it is written, every process reads the refreshed value (the waiting refreshes read it too, and load nothing).
    for (let polls = 0; sum((await statsOf(fleet)).map((s) => s.entryWrites)) === written && polls < 500; polls++) await new Promise((resolve) => setTimeout(resolve, 10));
    const after = await Promise.all(fleet.map((child) => child.burst({ method: 'revalidated', keys: [key], count: 10 }).then(({ outcome }) => outcome)));
    for (const outcome of after) expect(outcome.values.map((v) => v.value)).toEqual([{ key, version: 0, loadId: refresh.loadId }]);
    await statsOf(fleet);
    expect(loadsOf(fleet, key)).toHaveLength(2);
  });

  it(`the holder killed mid-load: exactly one more load, by another process, within lease + 1 s; every survivor's caller gets its value`, async () => {
    // The first load of 'orphan' in the fleet never ends (the database counts them): its process is killed.
    await Promise.all(fleet.map((child) => child.loader({ hangFirst: true })));
    const bursts = await Promise.all(fleet.map((child) => child.burst({ keys: ['orphan'], count: 50, timeoutMs: 15_000 })));
    // The holder is loading (and hangs); every other process was refused the lease, so waits for it.
    await until(() => loadsOf(fleet, 'orphan').length === 1 && fleet.filter((child) => refused(child, 'orphan')).length === fleet.length - 1, 5_000);
    const holder = fleet.find((child) => child.loadEvents().some((load) => load.key === 'orphan'))!;
    const survivors = fleet.filter((child) => child !== holder);
    expect(survivors.every((child) => refused(child, 'orphan'))).toBe(true);
    const outcomes = bursts.filter((_, i) => fleet[i] !== holder).map(({ outcome }) => outcome);

    const killedAt = performance.now();
    await holder.kill();
    await until(() => loadsOf(survivors, 'orphan').length > 0, LEASE + 5_000);
    const takeover = performance.now() - killedAt;
    console.log(`fleet-processes: holder SIGKILLed; a survivor took over the load after ${takeover.toFixed(0)} ms (lease ${LEASE} ms)`);
    expect(takeover).toBeLessThanOrEqual(LEASE + 1_000);

    const results = await Promise.all(outcomes);
    await statsOf(survivors);
    const loads = loadsOf(survivors, 'orphan');
    expect(loads).toHaveLength(1);
    const value = { key: 'orphan', version: 0, loadId: loads[0].loadId };
    for (const outcome of results) expect(outcome).toEqual({ calls: 50, values: [{ value, count: 50 }], failures: [] });
    expect(loadsOf([holder], 'orphan')).toHaveLength(1); // the one that hung
  }, 20_000);
});


// Needs the redis-server binary (the shared Redis is never killed): skipped, saying so, without it.
if (!REDIS_BIN) console.warn('fleet-processes.spec.ts: no redis-server on the PATH (or REDIS_SERVER_BIN): the Redis-killed-mid-burst test is skipped');
const withRedisServer = REDIS_BIN ? describe : describe.skip;

withRedisServer('fleet-wide flights when Redis dies mid-burst (a private redis-server for the cache, leases and bus)', () => {
  const namespace = `sf-fproc-kill-${randomUUID()}`;
  const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];
  /** The database's versions: what each key's loads return, and so the right value of every call. */
  const versionOf = (key: string) => 10 + KEYS.indexOf(key);
  let dir: string;
  let redis: PrivateRedis;
  const fleet: FleetProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sf-fleet-processes-'));
    redis = new PrivateRedis(await freePort(), join(dir, 'data'), join(dir, 'redis.log'));
    await redis.start({ persist: false });
    const db = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      await db.mset(Object.fromEntries(KEYS.map((key) => [`${namespace}:db:${key}`, String(versionOf(key))])));
    } finally {
      await db.quit();
    }
    // The cache store, the leases and the bus on the private server; the loader's database on the shared one.
    const options: FleetProcessOptions = { namespace, keyPrefix: 'sf-fproc:', redisUrl: redis.url, dbUrl: REDIS_URL, moduleOptions: { redis: redis.url, lease: LEASE } };
    await startFleet(fleet, 3, options);
  }, 30_000);

  afterAll(async () => {
    try {
      await Promise.all(fleet.map((child) => child.close()));
    } finally {
      await redis?.destroy();
      if (dir) rmSync(dir, { recursive: true, force: true });
      await dropNamespace(namespace);
    }
  });

  it('3 processes, 6 keys, 720 calls of a @SingleFlight({ distributed: true }) method; Redis SIGKILLed during the burst: no call fails, every one gets its value', async () => {
    await Promise.all(fleet.map((child) => child.loader({ delayMs: 100 })));

    // 40 rounds of one call per key, over 600 ms: calls start before, during and after the kill.
    const burstAt = performance.now();
    const bursts = await Promise.all(fleet.map((child) => child.burst({ method: 'build', keys: KEYS, count: 40, spreadMs: 600, timeoutMs: 15_000 })));
    // Mid-burst: a process holds k0's lease and is loading, and some process was refused a lease: it waits for another's load.
    await until(() => loadsOf(fleet, 'k0').length > 0 && fleet.some((child) => KEYS.some((key) => refused(child, key))), 5_000);
    const killedAt = performance.now();
    await redis.kill();
    const outcomes: BurstOutcome[] = await Promise.all(bursts.map(({ outcome }) => outcome));
    console.log(
      `fleet-processes: private Redis SIGKILLed ${(killedAt - burstAt).toFixed(0)} ms into the burst; ` +
        `the last of ${sum(outcomes.map((o) => o.calls))} calls answered ${(performance.now() - killedAt).toFixed(0)} ms after the kill; ` +
        `${KEYS.map((key) => loadsOf(fleet, key).length).join('/')} loads per key`,
    );

    for (const outcome of outcomes) {
      expect(outcome.failures).toEqual([]);
      expect(outcome.calls).toBe(KEYS.length * 40);
      expect(sum(outcome.values.map(({ count }) => count))).toBe(KEYS.length * 40);
      const wrong = outcome.values.filter(({ value }) => !KEYS.includes(value.key) || value.version !== versionOf(value.key));
      expect(wrong).toEqual([]);
      // Every key answered.
      expect(new Set(outcome.values.map(({ value }) => value.key))).toEqual(new Set(KEYS));
    }
    expect(redis.running).toBe(false);
  }, 20_000);
});
