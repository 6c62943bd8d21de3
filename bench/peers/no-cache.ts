// 1. No cache: every caller runs the query.
import type { Strategy } from './strategy.js';

export const noCache: Strategy = {
  id: 'no-cache',
  label: 'no cache',
  async start({ loader }) {
    return {
      read: (key) => loader.load(key),
      readFailing: (key) => loader.fail(key),
      close: async () => undefined,
    };
  },
};
