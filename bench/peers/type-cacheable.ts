// 5. @type-cacheable/core's @Cacheable decorator on its ioredis adapter (its default strategy).
import { Cacheable } from '@type-cacheable/core';
import { IoRedisAdapter } from '@type-cacheable/ioredis-adapter';
import { Redis } from 'ioredis';
import type { Row } from './loader.js';
import type { Strategy } from './strategy.js';

export const typeCacheable: Strategy = {
  id: 'type-cacheable',
  label: '@type-cacheable/core @Cacheable (ioredis)',
  async start({ redisUrl, loader, runId }) {
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    const client = new IoRedisAdapter(redis);
    const prefix = `peers-tc:${runId}:`;

    class Rows {
      @Cacheable({ client, cacheKey: (args: unknown[]) => `${prefix}${String(args[0])}`, ttlSeconds: 600 })
      async read(key: string): Promise<Row> {
        return loader.load(key);
      }

      @Cacheable({ client, cacheKey: (args: unknown[]) => `${prefix}failing:${String(args[0])}`, ttlSeconds: 600 })
      async readFailing(key: string): Promise<Row> {
        return loader.fail(key);
      }
    }
    const rows = new Rows();
    return {
      read: (key) => rows.read(key),
      readFailing: (key) => rows.readFailing(key),
      close: async () => void (await redis.quit()),
    };
  },
};
