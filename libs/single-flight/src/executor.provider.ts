import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Logger, type FactoryProvider } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { EntryFormat } from './cache-entry.js';
import { CacheLayout } from './cache-layout.js';
import { BackgroundRefreshes } from './background-refreshes.js';
import { CachedExecutor } from './cached-executor.js';
import { CallerValues } from './caller-value.js';
import { SingleFlightConfigError } from './errors.js';
import { FleetBus } from './fleet-bus.js';
import { FleetFlights } from './fleet-flight.js';
import { FlightRegistry } from './flight-registry.js';
import { FlightTelemetry } from './flight-telemetry.js';
import { SingleFlightStats } from './single-flight-stats.js';
import { LocalTier } from './local-tier.js';
import { RedisLink } from './redis-link.js';
import type { SingleFlightModuleOptions } from './interfaces/single-flight-module-options.interface.js';
import { resolveModuleOptions } from './module-settings.js';
import { ReadThrough } from './read-through.js';
import { OPTIONS_SOURCE } from './single-flight.constants.js';
import { SINGLE_FLIGHT_MODULE_OPTIONS } from './single-flight.module-definition.js';
import { TagInvalidation } from './tag-invalidation.js';

/** Builds the application's executor and its parts from the module options (forRoot and forRootAsync alike). */
async function createExecutor(options: SingleFlightModuleOptions, registry: FlightRegistry, stats: SingleFlightStats, cache: Cache | undefined, source = 'forRoot'): Promise<CachedExecutor> {
  const settings = resolveModuleOptions(options, `SingleFlightModule.${source}()`);
  const logger = new Logger('SingleFlight');
  const telemetry = new FlightTelemetry(stats);
  const layout = cache ? new CacheLayout(cache, { timeout: settings.storeTimeout, circuitBreaker: settings.circuitBreaker }, logger, telemetry) : undefined;
  for (const namespace of layout?.namespaces ?? []) {
    // keyv 5.6 prefixes getMany keys with the namespace always, but single-key calls only when the
    // key does not already start with it: such a prefix would read and write different keys.
    if (settings.keyPrefix.startsWith(`${namespace}:`)) {
      throw new SingleFlightConfigError(`SingleFlightModule.${source}(): keyPrefix "${settings.keyPrefix}" starts with the cache store's Keyv namespace "${namespace}:"; choose another keyPrefix`);
    }
  }
  // The kill switch leaves nothing for a bus or a fleet-wide flight to do: no connection is opened.
  const link = settings.redis === undefined || !settings.enabled ? undefined : await RedisLink.connect(settings.redis, settings.storeTimeout);
  const bus = link && new FleetBus(link, `${settings.keyPrefix}bus`, logger);
  // With a bus, the local tier is only as good as its subscription.
  const local = settings.local && new LocalTier(settings.local, settings.local.ttl, bus ? () => bus.connected : undefined);
  const fleet = link && bus && new FleetFlights(link, bus, settings.keyPrefix, settings.lease, Math.min(FLEET_POLL, settings.lease));
  const tags = new TagInvalidation(layout, registry, settings.keyPrefix, logger, local, bus);
  bus?.start({
    evicted: (evicted) => tags.evictedElsewhere(evicted),
    settled: (key) => fleet!.settled(key),
    // Messages may have been missed while it was down: nothing kept before is trusted.
    connection: () => local?.clear(),
  });
  const values = new CallerValues(settings.serializer, logger, settings.decodeLimits);
  const refreshes = new BackgroundRefreshes(registry, logger);
  if (cache) flushBeforeDisconnect(cache, tags, refreshes);
  const readThrough = layout && new ReadThrough(layout, tags, values, new EntryFormat(settings.signature), refreshes, local, fleet);
  return new CachedExecutor(settings, registry, tags, readThrough, values, refreshes, telemetry, layout, local, link && bus && { link, bus });
}

/** How often a process waiting for another's fleet-wide flight looks again without being told (ms). */
const FLEET_POLL = 200;

/**
 * @nestjs/cache-manager disconnects the stores in CACHE_MANAGER's onModuleDestroy, which Nest may
 * call before or after the executor's, depending on the order the modules are imported: queued
 * invalidations get their last try first, in either order.
 */
function flushBeforeDisconnect(cache: Cache, tags: TagInvalidation, refreshes: BackgroundRefreshes): void {
  const withHook = cache as Cache & { onModuleDestroy?: () => Promise<void> | void };
  const disconnect = withHook.onModuleDestroy;
  if (typeof disconnect !== 'function') return;
  withHook.onModuleDestroy = async () => {
    // No refresh reads, loads or writes past this point either.
    refreshes.stop();
    await tags.retries.flush();
    await disconnect.call(cache);
  };
}

export const executorProvider: FactoryProvider<CachedExecutor> = {
  provide: CachedExecutor,
  useFactory: createExecutor,
  inject: [SINGLE_FLIGHT_MODULE_OPTIONS, FlightRegistry, SingleFlightStats, { token: CACHE_MANAGER, optional: true }, { token: OPTIONS_SOURCE, optional: true }],
};
