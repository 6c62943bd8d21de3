import { DataSource } from 'typeorm';
import { createApp } from '../../apps/incidents/src/bootstrap.js';
import type { BoundedMemoryStore, MemoryCacheLimits } from '../../apps/incidents/src/cache/bounded-memory-store.js';
import { CACHE_BACKEND, type CacheBackend } from '../../apps/incidents/src/cache/cache-backend.js';
import { seedIncidents } from '../../apps/incidents/src/database/seed-incidents.js';
import { SqlStatementCounter } from '../../apps/incidents/src/database/sql-statement-counter.js';
import type { E2eApp } from './e2e-app.js';

/** The incidents app as `npm start` builds it with no REDIS_URL: the in-memory cache, within `memoryCacheLimits`. */
export async function startMemoryApp(
  databaseUrl: string,
  { memoryCacheLimits, seed = 0 }: { memoryCacheLimits?: MemoryCacheLimits; seed?: number },
): Promise<E2eApp & { store: BoundedMemoryStore }> {
  const app = await createApp({ databaseUrl, port: 0, singleFlight: true, cacheKeyPrefix: 'incidents:', memoryCacheLimits }, false);
  await app.init();
  if (seed) await seedIncidents(app.get(DataSource), seed);
  const store = app.get<CacheBackend>(CACHE_BACKEND).stores[0].store as BoundedMemoryStore;
  return { app, sql: app.get(SqlStatementCounter), store, close: () => app.close() };
}
