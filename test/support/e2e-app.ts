import type { NestExpressApplication } from '@nestjs/platform-express';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { createApp } from '../../apps/incidents/src/bootstrap.js';
import { CACHE_BACKEND, type CacheBackend } from '../../apps/incidents/src/cache/cache-backend.js';
import { seedIncidents } from '../../apps/incidents/src/database/seed-incidents.js';
import { SqlStatementCounter } from '../../apps/incidents/src/database/sql-statement-counter.js';
import { REDIS_URL } from '../../libs/single-flight/test/support/redis-cache.js';
import { waitFor } from './wait-for.js';

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
  /** The app's one Redis command connection (cache store, bus messages, leases); undefined for the memory store. */
  redis?: Redis;
  close(): Promise<void>;
}

export interface StartOptions {
  keyPrefix: string;
  redisUrl?: string;
  singleFlight?: boolean;
  seed?: number;
  cacheSecret?: string;
  /** CACHE_LOCAL_MAX (0: no local tier); default the app's. */
  cacheLocalMax?: number;
  /** CACHE_LOCAL_TTL_MS; default the app's. */
  cacheLocalTtlMs?: number;
  /** CACHE_TTL_MS; default the app's. */
  cacheTtlMs?: number;
}

/**
 * The incidents app as `npm start` builds it, on a test database, Redis with a key prefix of its
 * own. On the test Redis with the decorators on, it resolves once the app's invalidation bus is
 * subscribed: until then the library bypasses the local tier, so a test would take one path or
 * the other depending on timing.
 */
export async function startApp(
  databaseUrl: string,
  { keyPrefix, redisUrl = REDIS_URL, singleFlight = true, seed = 0, cacheSecret, cacheLocalMax, cacheLocalTtlMs, cacheTtlMs }: StartOptions,
): Promise<E2eApp> {
  const probe = redisUrl === REDIS_URL && singleFlight ? new Redis(REDIS_URL, { maxRetriesPerRequest: 1 }) : undefined;
  try {
    const before = probe && (await busSubscribers(keyPrefix, probe));
    const app = await createApp({ databaseUrl, redisUrl, port: 0, singleFlight, cacheKeyPrefix: keyPrefix, cacheSecret, cacheLocalMax, cacheLocalTtlMs, cacheTtlMs }, false);
    await app.init();
    if (probe && !(await waitFor(async () => (await busSubscribers(keyPrefix, probe)) > before!))) {
      await app.close();
      throw new Error(`the app's invalidation bus did not subscribe to ${busChannel(keyPrefix)} within 5 s`);
    }
    if (seed) await seedIncidents(app.get(DataSource), seed);
    return { app, sql: app.get(SqlStatementCounter), redis: app.get<CacheBackend>(CACHE_BACKEND).redis, close: () => app.close() };
  } finally {
    await probe?.quit();
  }
}

/** The library's bus channel: `<keyPrefix>bus` (README, Fleets). */
export const busChannel = (keyPrefix: string): string => `${keyPrefix}bus`;

/** How many connections are subscribed to the bus of `keyPrefix`: one per running instance. */
export async function busSubscribers(keyPrefix: string, redis: Redis): Promise<number> {
  const [, count] = (await redis.pubsub('NUMSUB', busChannel(keyPrefix))) as [string, number];
  return Number(count);
}

/** Removes what a test wrote under its key prefix (the app's Keyv namespace comes first). */
export async function dropCacheKeys(keyPrefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`*${keyPrefix}*`);
  if (keys.length) await redis.del(keys);
  await redis.quit();
}
