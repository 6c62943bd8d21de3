import type { NestExpressApplication } from '@nestjs/platform-express';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { createApp } from '../../apps/incidents/src/bootstrap.js';
import { seedIncidents } from '../../apps/incidents/src/database/seed-incidents.js';
import { SqlStatementCounter } from '../../apps/incidents/src/database/sql-statement-counter.js';
import { REDIS_URL } from '../../libs/single-flight/test/support/redis-cache.js';

export const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A database of its own on the real PostgreSQL, dropped afterwards. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `incidents_e2e_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

export interface E2eApp {
  app: NestExpressApplication;
  sql: SqlStatementCounter;
  close(): Promise<void>;
}

/** The incidents app as `npm start` builds it, on a test database, Redis with a key prefix of its own. */
export async function startApp(
  databaseUrl: string,
  { keyPrefix, redisUrl = REDIS_URL, singleFlight = true, seed = 0, cacheSecret }: { keyPrefix: string; redisUrl?: string; singleFlight?: boolean; seed?: number; cacheSecret?: string },
): Promise<E2eApp> {
  const app = await createApp({ databaseUrl, redisUrl, port: 0, singleFlight, cacheKeyPrefix: keyPrefix, cacheSecret }, false);
  await app.init();
  if (seed) await seedIncidents(app.get(DataSource), seed);
  return { app, sql: app.get(SqlStatementCounter), close: () => app.close() };
}

/** Removes what a test wrote under its key prefix (the app's Keyv namespace comes first). */
export async function dropCacheKeys(keyPrefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`*${keyPrefix}*`);
  if (keys.length) await redis.del(keys);
  await redis.quit();
}
