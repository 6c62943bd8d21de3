import { Redis } from 'ioredis';
import type { Keyv } from 'keyv';
import { REDIS_URL, redisKeyv } from './redis-cache.js';

/**
 * A Keyv store on the real Redis (redis-cache.ts) that remembers every key written through it,
 * so a test deletes exactly what it wrote: no KEYS or SCAN (other suites count those), no flush.
 */
export function trackedRedisKeyv(namespace: string): { keyv: Keyv; cleanup(): Promise<void> } {
  const keyv = redisKeyv(namespace);
  const written = new Set<string>();
  const set = keyv.set.bind(keyv);
  const setMany = keyv.setMany.bind(keyv);
  Object.assign(keyv, {
    set: (key: string, value: unknown, ttl?: number) => (written.add(key), set(key, value, ttl)),
    setMany: (entries: { key: string; value: unknown; ttl?: number }[]) => (entries.forEach((e) => written.add(e.key)), setMany(entries)),
  });
  return {
    keyv,
    async cleanup() {
      if (written.size === 0) return;
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      try {
        await redis.del(...[...written].map((key) => `${namespace}:${key}`));
      } finally {
        written.clear();
        await redis.quit();
      }
    },
  };
}
