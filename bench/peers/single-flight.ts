// 6. This library: @Cached + @SingleFlight on a Nest application context whose CACHE_MANAGER has
//    the Keyv Redis store of bench/support.ts (redisKeyv), built as bench/stampede.bench.ts and
//    bench/fleet.bench.ts do (benchApp). Four variants: copy mode (the default), freeze: true, the
//    local tier (local: { max: 10_000 } with redis for its bus), fleet-wide flights
//    (@SingleFlight({ distributed: true }) with redis).
import { Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cached, SingleFlight, type SingleFlightModuleOptions } from '@app/single-flight';
import { CachedExecutor } from '../../libs/single-flight/src/cached-executor.js';
import { benchApp, redisKeyv } from '../support.js';
import type { Loader, Row } from './loader.js';
import type { PeerContext, Strategy } from './strategy.js';

const TTL_MS = 600_000;

interface Variant {
  freeze?: boolean;
  distributed?: boolean;
  /** Module options beyond ttl. */
  module: (context: PeerContext) => SingleFlightModuleOptions;
}

/** A provider class of its own per variant (the decorators' options are fixed where the class is declared). */
function rowsProvider(loader: Loader, variant: Variant) {
  const cached = variant.freeze ? { freeze: true } : {};
  const flight = variant.distributed ? { distributed: true } : {};

  @Injectable()
  class PeerRows {
    @Cached(cached)
    @SingleFlight(flight)
    read(key: string): Promise<Row> {
      return loader.load(key);
    }

    @Cached(cached)
    @SingleFlight(flight)
    readFailing(key: string): Promise<Row> {
      return loader.fail(key);
    }
  }
  return PeerRows;
}

function singleFlight(id: string, label: string, variant: Variant): Strategy {
  return {
    id,
    label,
    async start(context) {
      const Rows = rowsProvider(context.loader, variant);
      const options = { ttl: TTL_MS, ...variant.module(context) };
      const app = await benchApp([Rows], [redisKeyv(`peers-${id}-${context.runId}`, context.redisUrl)], options);
      try {
        if (options.redis) {
          // The local tier trusts its entries only while its bus is subscribed; leases need the link.
          const executor = app.get(CachedExecutor);
          for (let waited = 0; !(executor.fleet?.bus.connected && executor.fleet.link.ready); waited += 20) {
            if (waited > 10_000) throw new Error(`${label}: Redis link or bus not ready after 10 s`);
            await sleep(20);
          }
        }
      } catch (error) {
        await app.close();
        throw error;
      }
      const rows = app.get(Rows);
      return {
        read: (key) => rows.read(key),
        readFailing: (key) => rows.readFailing(key),
        close: () => app.close(),
      };
    },
  };
}

export const singleFlightCopy = singleFlight('sf-copy', 'single-flight, default (copy mode)', { module: () => ({}) });
export const singleFlightFreeze = singleFlight('sf-freeze', 'single-flight, freeze: true', { freeze: true, module: () => ({}) });
export const singleFlightLocal = singleFlight('sf-local', 'single-flight, local tier (+ redis bus)', {
  module: ({ redisUrl }) => ({ redis: redisUrl, local: { max: 10_000 } }),
});
export const singleFlightFleet = singleFlight('sf-fleet', 'single-flight, fleet-wide (distributed: true)', {
  distributed: true,
  module: ({ redisUrl }) => ({ redis: redisUrl }),
});
