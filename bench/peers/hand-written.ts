// 2. The naive code users write on ioredis: GET, on a miss the query, then SET (JSON, with a ttl).
import { Redis } from 'ioredis';
import type { Row } from './loader.js';
import type { Strategy } from './strategy.js';

const TTL_MS = 600_000;

export const handWritten: Strategy = {
  id: 'hand-written',
  label: 'hand-written get / query / set (ioredis)',
  async start({ redisUrl, loader, runId }) {
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    const prefix = `peers-hw:${runId}:`;
    async function read(key: string, load: (key: string) => Promise<Row>): Promise<Row> {
      const hit = await redis.get(prefix + key);
      if (hit !== null) return JSON.parse(hit) as Row;
      const row = await load(key);
      await redis.set(prefix + key, JSON.stringify(row), 'PX', TTL_MS);
      return row;
    }
    return {
      read: (key) => read(key, (k) => loader.load(k)),
      readFailing: (key) => read(key, (k) => loader.fail(k)),
      close: async () => void (await redis.quit()),
    };
  },
};
