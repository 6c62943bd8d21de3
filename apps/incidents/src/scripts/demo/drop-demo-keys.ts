import { Redis } from 'ioredis';
import { escapeGlob, unlinkMatching } from '../../cache/clear-app-cache.js';

/**
 * Deletes what the demo's app instances left in Redis: every key containing one of `prefixes`
 * (entries and tag versions, under the cache's namespace, and any lease left behind), and no
 * other. Each prefix holds a random UUID, so nothing else can contain it. Returns how many went.
 */
export async function dropDemoKeys(redisUrl: string, prefixes: readonly string[]): Promise<number> {
  if (prefixes.length === 0) return 0;
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000, retryStrategy: () => null });
  let removed = 0;
  try {
    await redis.connect();
    for (const prefix of prefixes) removed += await unlinkMatching(redis, `*${escapeGlob(prefix)}*`);
  } finally {
    redis.disconnect();
  }
  return removed;
}
