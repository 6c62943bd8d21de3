import type { Redis } from 'ioredis';
import { CACHE_NAMESPACE } from './cache-backend.js';

const SCAN_BATCH = 500;
/** A bound on the SCAN loop, far beyond any cache this app writes (500 keys a round). */
const MAX_SCAN_ROUNDS = 1_000_000;

/** Redis MATCH treats `* ? [ ] \` as glob syntax: a prefix containing them must match itself only. */
export const escapeGlob = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&');

/** Every key the app's cache writes: the Keyv namespace, then the library's key prefix. */
export const appCacheKeyPattern = (keyPrefix: string): string => `${escapeGlob(`${CACHE_NAMESPACE}:${keyPrefix}`)}*`;

/**
 * Deletes every entry and tag version of the app's cache in Redis, in batches: SCAN never blocks
 * the server as KEYS does, and only these keys go, unlike FLUSHDB. Returns how many were removed.
 */
export function clearAppCache(redis: Redis, keyPrefix: string): Promise<number> {
  return unlinkMatching(redis, appCacheKeyPattern(keyPrefix));
}

/** Deletes the keys matching the MATCH `pattern`, a batch at a time (SCAN + UNLINK); returns how many. */
export async function unlinkMatching(redis: Redis, pattern: string): Promise<number> {
  let removed = 0;
  let cursor = '0';
  let rounds = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_BATCH);
    if (keys.length > 0) removed += await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0' && ++rounds < MAX_SCAN_ROUNDS);
  return removed;
}
