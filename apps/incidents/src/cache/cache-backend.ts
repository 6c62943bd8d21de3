import { KeyvAdapter, type CacheManagerStore } from 'cache-manager';
import { redisInsStore } from 'cache-manager-ioredis-yet';
import { Redis } from 'ioredis';
import { Keyv } from 'keyv';
import { redact } from '../config/app-config.js';
import { BoundedMemoryStore, MEMORY_CACHE_LIMITS, type MemoryCacheLimits } from './bounded-memory-store.js';

/** The store behind CACHE_MANAGER, and how to ask it if it is alive (for /health). */
export interface CacheBackend {
  readonly description: string;
  /** Keyv stores for CacheModule. */
  readonly stores: Keyv[];
  ping(): Promise<void>;
}

export const CACHE_BACKEND = Symbol('CACHE_BACKEND');

/** Keyv namespace: different from the library's key prefix (keyv 5.6 would prefix reads and writes differently; the library refuses it at start). */
export const CACHE_NAMESPACE = 'incidents-app';

/**
 * Redis through cache-manager 7 + cache-manager-ioredis-yet, with its quirks handled here, once:
 * ioredis ignores a `url` option (so the client is made from the URL), the store's v5 types are
 * cast to v7's, and the store gets the `disconnect` it lacks so app.close() quits ioredis.
 */
export function redisBackend(url: string): CacheBackend {
  // One retry per command: the library's storeTimeout and circuit breaker handle an outage.
  const client = new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2_000, lazyConnect: false });
  client.on('error', () => undefined); // reported by /health and the library's warnings, not as crashes
  const store = Object.assign(redisInsStore(client), { disconnect: () => client.quit().then(() => undefined, () => client.disconnect()) });
  return {
    description: `Redis at ${redact(url)}`,
    stores: [new Keyv({ store: new KeyvAdapter(store as unknown as CacheManagerStore), namespace: CACHE_NAMESPACE })],
    ping: async () => void (await client.ping()),
  };
}

/** This process's memory, bounded (see MEMORY_CACHE_LIMITS); tests pass lower limits. */
export function memoryBackend(limits: MemoryCacheLimits = MEMORY_CACHE_LIMITS): CacheBackend {
  return {
    description: `in-memory store of at most ${limits.maxEntries.toLocaleString('en-US')} entries (set REDIS_URL to share the cache between instances)`,
    stores: [new Keyv({ store: new BoundedMemoryStore(limits), namespace: CACHE_NAMESPACE })],
    ping: async () => undefined,
  };
}
