import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { App } from 'supertest/types.js';
import { createTestDatabase, dropCacheKeys, startApp } from './support/e2e-app.js';

const keyPrefix = `e2e-${randomUUID()}:`;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => (database = await createTestDatabase()));
afterAll(async () => {
  await database?.drop();
  await dropCacheKeys(keyPrefix);
});

describe('/health', () => {
  it('reports the database and the Redis cache up', async () => {
    const { app, close } = await startApp(database.url, { keyPrefix });
    const { body } = await request(app.getHttpServer() as App).get('/health').expect(200);
    expect(body.status).toBe('ok');
    expect(body.details.database.status).toBe('up');
    expect(body.details.cache).toMatchObject({ status: 'up', degraded: false });
    await close();
  });

  it('with Redis unreachable: degraded, not down, and the API still answers from the database', async () => {
    // Nothing listens on port 1: every cache operation fails.
    const { app, close, sql } = await startApp(database.url, { keyPrefix, redisUrl: 'redis://127.0.0.1:1', seed: 20 });
    const http = request(app.getHttpServer() as App);
    const { body } = await http.get('/health').expect(200);
    expect(body.status).toBe('ok');
    expect(body.details.cache).toMatchObject({ status: 'up', degraded: true });
    expect(body.details.cache.message).toMatch(/reads are served from the database/);

    const before = sql.count;
    const list = await http.get('/incidents?limit=5').expect(200);
    expect(list.body.items).toHaveLength(5);
    expect(sql.count - before).toBe(1);
    await close();
  });
});
