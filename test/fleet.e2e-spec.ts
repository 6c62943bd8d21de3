import { jest } from '@jest/globals';
import type { Command } from 'ioredis';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { App } from 'supertest/types.js';
import { REDIS_URL } from '../libs/single-flight/test/support/redis-cache.js';
import { busSubscribers, createTestDatabase, dropCacheKeys, startApp, type E2eApp } from './support/e2e-app.js';
import { waitFor } from './support/wait-for.js';

// Two instances of the app in one process, on one test database and the real Redis (a key prefix
// of their own), as `REDIS_URL=... npm start` runs them: the local tier, the invalidation bus and
// fleet-wide flights (apps/incidents/src/cache/single-flight-options.ts).

const keyPrefix = `e2e-fleet-${randomUUID()}:`;
const prefixes = [keyPrefix];
/** Longest wait for instance 1's eviction to reach instance 2 over the bus (a local Redis: milliseconds). */
const BUS_WAIT_MS = 2_000;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let one: E2eApp;
let two: E2eApp;
const http = (instance: E2eApp) => request(instance.app.getHttpServer() as App);

beforeAll(async () => {
  database = await createTestDatabase();
  // A local ttl longer than the test: an entry of instance 2's local tier can end only by the bus
  // (or the list's own 30 s ttl), so seeing the change within BUS_WAIT_MS is the bus's doing.
  one = await startApp(database.url, { keyPrefix, seed: 60, cacheLocalTtlMs: 60_000 });
  two = await startApp(database.url, { keyPrefix, cacheLocalTtlMs: 60_000 });
});
afterAll(async () => {
  await one?.close();
  await two?.close();
  await database?.drop();
  for (const prefix of prefixes) await dropCacheKeys(prefix);
});

/** What `fn` cost `instance`: SQL statements, and the commands it sent on its Redis connection (by name). */
async function cost(instance: E2eApp, fn: () => Promise<unknown>): Promise<{ sql: number; redis: string[] }> {
  const sendCommand = jest.spyOn(instance.redis!, 'sendCommand');
  const sql = instance.sql.count;
  try {
    await fn();
    return { sql: instance.sql.count - sql, redis: sendCommand.mock.calls.map(([command]) => (command as Command).name) };
  } finally {
    sendCommand.mockRestore();
  }
}

describe('two instances with REDIS_URL: local tier, bus and fleet-wide flights', () => {
  it('an update through instance 1 reaches instance 2’s local tier over the bus, within a bounded wait, and is never stale after', async () => {
    const path = '/incidents?namespace=payments&limit=5';
    const first = (await http(two).get(path).expect(200)).body;
    const target = first.items[0];

    // Repeated GETs on instance 2 come from its local tier: no SQL, and not one Redis command.
    const warm = await cost(two, async () => {
      for (let i = 0; i < 5; i++) expect((await http(two).get(path).expect(200)).body).toEqual(first);
    });
    expect(warm).toEqual({ sql: 0, redis: [] });

    const title = `Renamed ${randomUUID().slice(0, 8)}`;
    // Instance 1 writes the new tag tokens and publishes the eviction on the same connection as its cache.
    const write = await cost(one, () => http(one).patch(`/incidents/${target.id}`).send({ title }).expect(200));
    expect(write.redis).toContain('publish');
    const patchedAt = Date.now();

    const titleOnTwo = async () => (await http(two).get(path).expect(200)).body.items.find((item: { id: string }) => item.id === target.id)?.title;
    expect(await waitFor(async () => (await titleOnTwo()) === title, BUS_WAIT_MS)).toBe(true);
    const seenAfterMs = Date.now() - patchedAt;
    expect(seenAfterMs).toBeLessThan(BUS_WAIT_MS);
    for (let i = 0; i < 20; i++) expect(await titleOnTwo()).toBe(title);

    // And the fresh page is in instance 2's local tier again.
    const again = await cost(two, () => http(two).get(path).expect(200));
    expect(again).toEqual({ sql: 0, redis: [] });
  });

  it.each([
    ['a list', '/incidents?namespace=checkout&severity=high&limit=7'],
    ['the stats', '/incidents/stats'],
  ])('%s: a cold read requested from both instances at once is loaded once for the fleet', async (_, path) => {
    const before = one.sql.count + two.sql.count;
    const responses = await Promise.all([one, two].flatMap((instance) => Array.from({ length: 25 }, () => http(instance).get(path))));
    expect(one.sql.count + two.sql.count - before).toBe(1);
    expect(responses.every((response) => response.status === 200)).toBe(true);
    expect(new Set(responses.map((response) => response.text)).size).toBe(1);
  });
});

describe('the Redis connections of an instance', () => {
  it('one command connection for the cache store and the library, plus the subscription the library duplicates from it; each closed once at shutdown', async () => {
    const prefix = `e2e-fleet-conn-${randomUUID()}:`;
    prefixes.push(prefix);
    const duplicate = jest.spyOn(Redis.prototype, 'duplicate');
    let three: E2eApp;
    let duplicated: { contexts: unknown[]; results: unknown[] };
    try {
      three = await startApp(database.url, { keyPrefix: prefix });
    } finally {
      // Read before mockRestore, which clears them.
      duplicated = { contexts: [...duplicate.mock.contexts], results: duplicate.mock.results.map((result) => result.value) };
      duplicate.mockRestore();
    }
    const client = three.redis!;
    // The library made no connection from a URL: it duplicated the app's client, once, for its subscription.
    expect(duplicated.contexts).toHaveLength(1);
    expect(duplicated.contexts[0]).toBe(client);
    const subscriber = duplicated.results[0] as Redis;
    expect(subscriber).not.toBe(client);
    expect([client.status, subscriber.status]).toEqual(['ready', 'ready']);

    const probe = new Redis(REDIS_URL);
    try {
      expect(await busSubscribers(prefix, probe)).toBe(1);
      const quit = jest.spyOn(client, 'quit');
      const disconnect = jest.spyOn(client, 'disconnect');
      await three.close();
      expect(quit).toHaveBeenCalledTimes(1);
      expect(disconnect).not.toHaveBeenCalled();
      // QUIT resolves on Redis's OK; the socket closes just after.
      await waitFor(() => client.status === 'end' && subscriber.status === 'end', 2_000);
      expect([client.status, subscriber.status]).toEqual(['end', 'end']);
      expect(quit).toHaveBeenCalledTimes(1);
      expect(await busSubscribers(prefix, probe)).toBe(0);
    } finally {
      await probe.quit();
    }
  });
});
