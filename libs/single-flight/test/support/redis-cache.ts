import { KeyvAdapter, type CacheManagerStore } from 'cache-manager';
import { redisInsStore } from 'cache-manager-ioredis-yet';
import { Redis } from 'ioredis';
import { Keyv } from 'keyv';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A Keyv store on the real Redis at REDIS_URL (or `url`), that closes its connection with the application. */
export function redisKeyv(namespace: string, url = REDIS_URL): Keyv {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => undefined); // a private server a test kills: its outage is the library's to report
  // The store has no disconnect: without one, app.close() leaves ioredis running.
  const disconnect = async () => (client.status === 'ready' ? void (await client.quit().catch(() => client.disconnect())) : client.disconnect());
  const store = Object.assign(redisInsStore(client), { disconnect });
  return new Keyv({ store: new KeyvAdapter(store as unknown as CacheManagerStore), namespace });
}

/** Deletes every Redis key under `${namespace}:*` (SCAN + UNLINK), the namespace matched literally. */
export async function dropNamespace(namespace: string): Promise<void> {
  if (!namespace) throw new Error('dropNamespace: an empty namespace would match foreign keys');
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, commandTimeout: 10_000 });
  const match = `${namespace.replace(/[*?[\]\\]/g, '\\$&')}:*`;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1_000);
      if (keys.length) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}
