import { Redis } from 'ioredis';
import { REDIS_URL } from '../../libs/single-flight/test/support/redis-cache.js';

/** Redis MATCH treats `* ? [ ] \` as glob syntax. */
const escapeGlob = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&');

/** The keys under `keyPrefix` (after the app's Keyv namespace) that start with `within`, by SCAN. */
export async function keysUnder(keyPrefix: string, within = ''): Promise<string[]> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const found: string[] = [];
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${escapeGlob(`${keyPrefix}${within}`)}*`, 'COUNT', 1_000);
      found.push(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
  return found;
}
