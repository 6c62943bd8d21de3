import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { App } from 'supertest/types.js';
import { DataSource } from 'typeorm';
import { CACHE_NAMESPACE } from '../apps/incidents/src/cache/cache-backend.js';
import { clearAppCache } from '../apps/incidents/src/cache/clear-app-cache.js';
import { seedIncidents } from '../apps/incidents/src/database/seed-incidents.js';
import { REDIS_URL } from '../libs/single-flight/test/support/redis-cache.js';
import { createTestDatabase, startApp, type E2eApp } from './support/e2e-app.js';
import { waitFor } from './support/wait-for.js';

// What `npm run seed` does to the cache with REDIS_URL set. The prefix holds a glob character:
// unescaped, the SCAN pattern would also take the "look-alike" key below.
const id = randomUUID();
const keyPrefix = `e2e-seed-${id}*:`;
const appKey = (key: string) => key.startsWith(`${CACHE_NAMESPACE}:${keyPrefix}`);
const foreignKeys = [
  `${CACHE_NAMESPACE}:e2e-seed-${id}-look-alike:x`, // matches the prefix read as a glob
  `${CACHE_NAMESPACE}:e2e-other-${id}:x`, // the app's namespace, another prefix
  `other-app:${keyPrefix}x`, // another namespace, the same prefix
  `${keyPrefix}x`, // no namespace
];

/** CACHE_LOCAL_TTL_MS: the seed writes around the app, so its local tier learns of it only when its entries end. */
const LOCAL_TTL_MS = 300;

let redis: Redis;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let instance: E2eApp;

/** Every key this test wrote, the app's and the foreign ones, found by SCAN. */
async function testKeys(): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of redis.scanStream({ match: `*${id}*`, count: 500 })) keys.push(...(batch as string[]));
  return keys.sort();
}

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  database = await createTestDatabase();
  instance = await startApp(database.url, { keyPrefix, seed: 20, cacheLocalTtlMs: LOCAL_TTL_MS });
});
afterAll(async () => {
  await instance?.close();
  await database?.drop();
  const left = redis ? await testKeys() : [];
  if (left.length) await redis.unlink(...left);
  await redis?.quit();
});

describe("the seed's cache clearing (REDIS_URL set)", () => {
  it("removes exactly the app's keys, and the app then serves the seeded data", async () => {
    const http = request(instance.app.getHttpServer() as App);
    const { body: page } = await http.get('/incidents?limit=3').expect(200);
    expect(page.total).toBe(20);
    await http.get('/incidents/stats').expect(200);
    await http.get(`/incidents/${page.items[0].id}`).expect(200);
    await http.post('/incidents').send({ namespace: 'e2e-seed', severity: 'low', title: 'Before the seed' }).expect(201); // writes tag versions
    await http.get('/incidents?limit=3').expect(200);
    for (const key of foreignKeys) await redis.set(key, 'foreign');

    const before = await testKeys();
    const appKeys = before.filter(appKey);
    expect(appKeys.length).toBeGreaterThanOrEqual(4);
    expect(before.filter((key) => !appKey(key))).toEqual([...foreignKeys].sort());

    // The seed replaces every incident: the cached reads are stale until cleared.
    await seedIncidents(instance.app.get(DataSource), 25);
    expect((await http.get('/incidents?limit=3').expect(200)).body.total).toBe(21);

    const cleared = Date.now();
    expect(await clearAppCache(redis, keyPrefix)).toBe(appKeys.length);
    expect(await testKeys()).toEqual([...foreignKeys].sort());
    // Redis no longer has them; what the instance keeps in its local tier lives at most CACHE_LOCAL_TTL_MS more.
    const total = async () => (await http.get('/incidents?limit=3').expect(200)).body.total as number;
    expect(await waitFor(async () => (await total()) === 25, LOCAL_TTL_MS + 1_000)).toBe(true);
    expect(Date.now() - cleared).toBeLessThan(LOCAL_TTL_MS + 1_000);
    for (let i = 0; i < 5; i++) expect(await total()).toBe(25);
  });
});
