import type { NestExpressApplication } from '@nestjs/platform-express';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import request from 'supertest';
import type { App } from 'supertest/types.js';
import { DataSource } from 'typeorm';
import { createApp } from '../apps/incidents/src/bootstrap.js';
import { configFromEnv } from '../apps/incidents/src/config/app-config.js';
import { seedIncidents } from '../apps/incidents/src/database/seed-incidents.js';
import { REDIS_URL } from '../libs/single-flight/test/support/redis-cache.js';
import { createTestDatabase, dropCacheKeys } from './support/e2e-app.js';

const STATEMENT_TIMEOUT_MS = 300;
const keyPrefix = `e2e-timeout-${randomUUID()}:`;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let app: NestExpressApplication;
let ids: string[];
// Every request gives up well before the library's hard timeout: a hang fails the test, it does not stall it.
const get = (path: string) => request(app.getHttpServer() as App).get(path).timeout(5_000);

beforeAll(async () => {
  database = await createTestDatabase();
  // Through the environment, as `npm start` reads it.
  const config = configFromEnv({ DATABASE_URL: database.url, REDIS_URL, CACHE_KEY_PREFIX: keyPrefix, DB_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS) });
  app = await createApp({ ...config, databaseUrl: database.url }, false);
  await app.init();
  await seedIncidents(app.get(DataSource), 30);
  ids = (await app.get(DataSource).query<{ id: string }[]>('SELECT id FROM incident_events ORDER BY id')).map((row) => row.id);
});
afterAll(async () => {
  await app?.close();
  await database?.drop();
  await dropCacheKeys(keyPrefix);
});

/** The pg Pool behind TypeORM, to see that no connection is left checked out. */
const pool = () => (app.get(DataSource).driver as unknown as { master: pg.Pool }).master;

describe('a statement PostgreSQL cancels is a 503, and its connection goes back to the pool', () => {
  it('reads behind an ACCESS EXCLUSIVE lock', async () => {
    const locker = new pg.Client({ connectionString: database.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE incident_events IN ACCESS EXCLUSIVE MODE');

      const started = performance.now();
      const response = await get(`/incidents/${ids[0]}`);
      const elapsed = performance.now() - started;
      expect(response.status).toBe(503);
      expect(response.headers['retry-after']).toBe('1');
      expect(response.body.message).toMatch(/database did not answer in time/);
      expect(JSON.stringify(response.body)).not.toMatch(/SELECT|incident_events/); // no SQL in the answer
      expect(elapsed).toBeGreaterThanOrEqual(STATEMENT_TIMEOUT_MS - 50);
      expect(elapsed).toBeLessThan(STATEMENT_TIMEOUT_MS + 1_500);

      // More distinct uncached reads than the pool has connections (10): each is cancelled in turn
      // and hands its connection to the next; a leaked one would leave the last ones waiting.
      const paths = [...ids.slice(1, 13).map((id) => `/incidents/${id}`), '/incidents/stats', '/incidents?namespace=payments'];
      const statuses = (await Promise.all(paths.map((path) => get(path)))).map((r) => r.status);
      expect(statuses).toEqual(paths.map(() => 503));
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
    }

    // Nothing of the failures was cached, and every connection is back.
    expect((await get(`/incidents/${ids[0]}`).expect(200)).body.id).toBe(ids[0]);
    await get('/incidents/stats').expect(200);
    expect(pool().waitingCount).toBe(0);
    expect(pool().idleCount).toBe(pool().totalCount);
  });

  it('a database error other than a timeout is still a 500 (only cancellations are mapped)', async () => {
    const locker = new pg.Client({ connectionString: database.url });
    await locker.connect();
    try {
      await locker.query('ALTER TABLE incident_events RENAME TO incident_events_away');
      expect((await get(`/incidents/${ids[20]}`)).status).toBe(500);
    } finally {
      await locker.query('ALTER TABLE incident_events_away RENAME TO incident_events');
      await locker.end();
    }
    await get(`/incidents/${ids[20]}`).expect(200);
  });
});
