import { KeyvAdapter, type CacheManagerStore } from 'cache-manager';
import { redisInsStore } from 'cache-manager-ioredis-yet';
import { Redis } from 'ioredis';
import { Keyv } from 'keyv';
import { redact, type AppConfig } from '../config/app-config.js';
import { BoundedMemoryStore, MEMORY_CACHE_LIMITS, type MemoryCacheLimits } from './bounded-memory-store.js';

/** The store behind CACHE_MANAGER, and how to ask it if it is alive (for /health). */
export interface CacheBackend {
  readonly description: string;
  /** Keyv stores for CacheModule. */
  readonly stores: Keyv[];
  /**
   * The one Redis connection of the app (REDIS_URL): the cache store's, also handed to
   * SingleFlightModule for the bus and fleet-wide flights (it duplicates it for its subscription).
   * Undefined for the memory store.
   */
  readonly redis?: Redis;
  ping(): Promise<void>;
  /** Closes what the backend opened; later calls wait for the first (the connection is closed once). */
  close(): Promise<void>;
}

export const CACHE_BACKEND = Symbol('CACHE_BACKEND');

/** Keyv namespace: different from the library's key prefix (keyv 5.6 would prefix reads and writes differently; the library refuses it at start). */
export const CACHE_NAMESPACE = 'incidents-app';

/**
 * Redis through cache-manager 7 + cache-manager-ioredis-yet, with its quirks handled here, once:
 * ioredis ignores a `url` option (so the client is made from the URL) and the store's v5 types are
 * cast to v7's.
 *
 * The connection has two users, the cache store and SingleFlightModule (bus messages, fleet
 * leases), so neither closes it: the store is given no `disconnect` (@nestjs/cache-manager would
 * call it in onModuleDestroy, while requests and the library's last invalidations may still need
 * it), and AppCacheModule closes it once, at application shutdown, after the HTTP server.
 */
export function redisBackend(url: string): CacheBackend {
  // One retry per command: the library's storeTimeout and circuit breaker handle an outage.
  const client = new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2_000, lazyConnect: false });
  client.on('error', () => undefined); // reported by /health and the library's warnings, not as crashes
  let closed: Promise<void> | undefined;
  return {
    description: `Redis at ${redact(url)}`,
    stores: [new Keyv({ store: new KeyvAdapter(redisInsStore(client) as unknown as CacheManagerStore), namespace: CACHE_NAMESPACE })],
    redis: client,
    ping: async () => void (await client.ping()),
    close: () => (closed ??= quit(client)),
  };
}

/** QUIT when connected (replies still due arrive first); otherwise (Redis down) just drop the connection. */
async function quit(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') return client.disconnect();
  await client.quit().catch(() => client.disconnect());
}

/** This process's memory, bounded (see MEMORY_CACHE_LIMITS); tests pass lower limits. */
export function memoryBackend(limits: MemoryCacheLimits = MEMORY_CACHE_LIMITS): CacheBackend {
  return {
    description: `in-memory store of at most ${limits.maxEntries.toLocaleString('en-US')} entries (set REDIS_URL to share the cache between instances)`,
    stores: [new Keyv({ store: new BoundedMemoryStore(limits), namespace: CACHE_NAMESPACE })],
    ping: async () => undefined,
    close: async () => undefined,
  };
}

/** Redis with REDIS_URL, else this process's memory. */
export function cacheBackend(config: Pick<AppConfig, 'redisUrl'> & { memoryCacheLimits?: MemoryCacheLimits }): CacheBackend {
  return config.redisUrl ? redisBackend(config.redisUrl) : memoryBackend(config.memoryCacheLimits);
}
