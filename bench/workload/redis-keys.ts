// The keys the instances wrote in the shared Redis under the bench's unique prefix: counted and
// deleted after the run (SCAN + UNLINK of those keys only; never FLUSHDB on a Redis others use).
import { Redis } from 'ioredis';
import { escapeGlob, unlinkMatching } from '../../apps/incidents/src/cache/clear-app-cache.js';

/** Deletes every key containing `marker` (the app writes `incidents-app:<prefix>...`); returns how many. */
export async function deleteKeysContaining(redisUrl: string, marker: string): Promise<number> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2_000, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await unlinkMatching(redis, `*${escapeGlob(marker)}*`);
  } finally {
    redis.disconnect();
  }
}

export async function redisVersion(redisUrl: string): Promise<string> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2_000, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return /redis_version:([^\r\n]+)/.exec(await redis.info('server'))?.[1] ?? 'unknown';
  } finally {
    redis.disconnect();
  }
}
