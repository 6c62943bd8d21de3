import request from 'supertest';
import type { App } from 'supertest/types.js';
import { createTestDatabase } from './support/e2e-app.js';
import { startMemoryApp } from './support/memory-app.js';

// The app as `npm start` runs it with no REDIS_URL, its in-memory cache lowered to a cap a test
// can pass with a few requests.
const CAP = 20;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let instance: Awaited<ReturnType<typeof startMemoryApp>>;
const http = () => request(instance.app.getHttpServer() as App);

beforeAll(async () => {
  database = await createTestDatabase();
  instance = await startMemoryApp(database.url, { memoryCacheLimits: { maxEntries: CAP, maxCharacters: 1_000_000 }, seed: 30 });
});
afterAll(async () => {
  await instance?.close();
  await database?.drop();
});

describe('the in-memory cache (no REDIS_URL)', () => {
  it('serves a repeated read from memory', async () => {
    const before = instance.sql.count;
    const first = await http().get('/incidents?limit=5').expect(200);
    expect(instance.sql.count - before).toBe(1);
    const second = await http().get('/incidents?limit=5').expect(200);
    expect(instance.sql.count - before).toBe(1);
    expect(second.body).toEqual(first.body);
  });

  it('holds no more than its cap, however many distinct query strings come', async () => {
    for (let i = 0; i < CAP * 3; i++) {
      await http().get(`/incidents?namespace=distinct-${i}`).expect(200);
      expect(instance.store.size).toBeLessThanOrEqual(CAP);
    }
    expect(instance.store.size).toBe(CAP);
    // The most recent reads are the ones kept.
    const before = instance.sql.count;
    await http().get(`/incidents?namespace=distinct-${CAP * 3 - 1}`).expect(200);
    expect(instance.sql.count).toBe(before);
  });
});
