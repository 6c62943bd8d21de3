// 3. cache-manager 7's wrap on a Keyv Redis store (the redisKeyv store of bench/support.ts:
//    cache-manager-ioredis-yet behind Keyv's KeyvAdapter; @keyv/redis is not installed here).
import { createCache } from 'cache-manager';
import { redisKeyv } from '../support.js';
import type { Strategy } from './strategy.js';

export const cacheManagerWrap: Strategy = {
  id: 'cache-manager-wrap',
  label: 'cache-manager 7 wrap (Keyv, Redis)',
  async start({ redisUrl, loader, runId }) {
    const cache = createCache({ stores: [redisKeyv(`peers-cm-${runId}`, redisUrl)], ttl: 600_000 });
    return {
      read: (key) => cache.wrap(key, () => loader.load(key)),
      readFailing: (key) => cache.wrap(key, () => loader.fail(key)),
      close: () => cache.disconnect(),
    };
  },
};
