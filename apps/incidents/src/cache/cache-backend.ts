import { KeyvAdapter, type CacheManagerStore } from 'cache-manager';
import { redisInsStore } from 'cache-manager-ioredis-yet';
import { Redis } from 'ioredis';
import { Keyv } from 'keyv';
import { redact } from '../config/app-config.js';

/** The store behind CACHE_MANAGER, and how to ask it if it is alive (for /health). */
export interface CacheBackend {
  readonly description: string;
  /** Keyv stores for CacheModule; none means cache-manager's in-memory default. */
  readonly stores?: Keyv[];
  ping(): Promise<void>;
}

export const CACHE_BACKEND = Symbol('CACHE_BACKEND');

/** Keyv namespace: different from the library's key prefix (see STACK.md on keyv 5.6 namespaces). */
const NAMESPACE = 'incidents-app';

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
    stores: [new Keyv({ store: new KeyvAdapter(store as unknown as CacheManagerStore), namespace: NAMESPACE })],
    ping: async () => void (await client.ping()),
  };
}

export const memoryBackend = (): CacheBackend => ({
  description: 'in-memory store (set REDIS_URL to share the cache between instances)',
  ping: async () => undefined,
});
