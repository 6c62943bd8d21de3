import type { Redis } from 'ioredis';
import { CACHE_NAMESPACE } from './cache-backend.js';

const SCAN_BATCH = 500;

/** Redis MATCH treats `* ? [ ] \` as glob syntax: a prefix containing them must match itself only. */
const escapeGlob = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&');

/** Every key the app's cache writes: the Keyv namespace, then the library's key prefix. */
export const appCacheKeyPattern = (keyPrefix: string): string => `${escapeGlob(`${CACHE_NAMESPACE}:${keyPrefix}`)}*`;

/**
 * Deletes every entry and tag version of the app's cache in Redis, in batches: SCAN never blocks
 * the server as KEYS does, and only these keys go, unlike FLUSHDB. Returns how many were removed.
 */
export async function clearAppCache(redis: Redis, keyPrefix: string): Promise<number> {
  const pattern = appCacheKeyPattern(keyPrefix);
  let removed = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_BATCH);
    if (keys.length > 0) removed += await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  return removed;
}
