import { KeyvAdapter, type CacheManagerStore } from 'cache-manager';
import { redisStore } from 'cache-manager-ioredis-yet';
import { Keyv } from 'keyv';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A Keyv store on the real Redis, that closes its connection with the application. */
export async function redisKeyv(namespace: string): Promise<Keyv> {
  const store = await redisStore({ url: REDIS_URL } as never);
  // The store has no disconnect: without one, app.close() leaves ioredis running.
  const adapter = new KeyvAdapter(Object.assign(store, { disconnect: () => store.client.quit() }) as unknown as CacheManagerStore);
  return new Keyv({ store: adapter, namespace });
}
