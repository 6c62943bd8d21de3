// 4. bentocache's getOrSet: an L1 memory tier in front of L2 Redis, with its Redis bus (as its
//    documentation sets up a multi-tier store), and L2 Redis alone.
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis';
import type { Peer, PeerContext, Strategy } from './strategy.js';

function peer(bento: BentoCache<{ peers: ReturnType<typeof bentostore> }>, { loader }: PeerContext): Peer {
  const cache = bento.use('peers');
  return {
    read: (key) => cache.getOrSet({ key, ttl: '10m', factory: () => loader.load(key) }),
    readFailing: (key) => cache.getOrSet({ key, ttl: '10m', factory: () => loader.fail(key) }),
    close: () => bento.disconnectAll(),
  };
}

export const bentoTwoTier: Strategy = {
  id: 'bentocache-l1-l2',
  label: 'bentocache L1 memory + L2 Redis + bus',
  async start(context) {
    const connection = { host: context.redisHost, port: context.redisPort };
    const store = bentostore()
      .useL1Layer(memoryDriver({ maxItems: 10_000 }))
      .useL2Layer(redisDriver({ connection }))
      .useBus(redisBusDriver({ connection }));
    return peer(new BentoCache({ default: 'peers', prefix: `peers-bento12-${context.runId}`, stores: { peers: store } }), context);
  },
};

export const bentoL2: Strategy = {
  id: 'bentocache-l2',
  label: 'bentocache L2 Redis only',
  async start(context) {
    const store = bentostore().useL2Layer(redisDriver({ connection: { host: context.redisHost, port: context.redisPort } }));
    return peer(new BentoCache({ default: 'peers', prefix: `peers-bento2-${context.runId}`, stores: { peers: store } }), context);
  },
};
