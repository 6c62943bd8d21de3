import type { SingleFlightModuleOptions } from '@app/single-flight';
import { DEFAULT_CACHE_LOCAL_MAX, DEFAULT_CACHE_LOCAL_TTL_MS, DEFAULT_CACHE_TTL_MS, DEFAULT_HARD_TIMEOUT_MS, type AppConfig } from '../config/app-config.js';
import type { CacheBackend } from './cache-backend.js';

/**
 * Characters of encoded value the local tier keeps at most: 10 million is about 360 full
 * 100-item pages or 1,800 default 20-item ones, far more than the hot set of reads, and with the
 * decoded objects beside the text some 50-100 MB of heap at worst. Past it (or past
 * CACHE_LOCAL_MAX entries) the least recently used go first; they are still in Redis.
 */
export const LOCAL_TIER_MAX_CHARACTERS = 10_000_000;

/**
 * The options of SingleFlightModule.forRoot, from the configuration and the cache backend.
 *
 * With REDIS_URL (a fleet: any number of instances share the Redis):
 * - `redis`: the backend's own ioredis client, so the app holds one command connection to Redis,
 *   plus the subscription the library duplicates from it. The library leaves the client to the
 *   app, which closes it once at shutdown (cache.module.ts).
 * - `local`: a hot read costs no Redis round trip and no decode. The bus carries the app's own
 *   evictions to every instance at once; `ttl` (CACHE_LOCAL_TTL_MS, 5 s) only bounds how long a
 *   change made around the app (`npm run seed`, SQL by hand) is served from memory.
 * - `distributed: true`, the module default: a cold read is loaded once for the whole fleet, not
 *   once per instance (the decision: no concurrent identical query anywhere). It is the module
 *   default rather than `@SingleFlight({ distributed: true })` on the methods because that
 *   decorator option fails the start without `redis`, and Redis is optional here.
 *   `CACHE_FLEET_FLIGHTS=off` makes it `false`: each instance then loads a cold key once for
 *   itself (`npm run demo` compares both); the local tier and the bus stay.
 *
 * Without REDIS_URL the cache is the bounded memory store, in this process already: a local tier
 * in front of it would hold the same values twice and save nothing but a decode, and with one
 * instance there is no fleet to tell, so there is no bus, and flights are this process's.
 * `SINGLE_FLIGHT=off` (the kill switch) connects no bus either: nothing would use it.
 */
export function singleFlightOptions(config: AppConfig, backend: Pick<CacheBackend, 'redis'>): SingleFlightModuleOptions {
  const options: SingleFlightModuleOptions = {
    ttl: config.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS,
    keyPrefix: config.cacheKeyPrefix,
    enabled: config.singleFlight,
    hardTimeout: config.hardTimeoutMs ?? DEFAULT_HARD_TIMEOUT_MS,
    // Every cached value here ends up in a JSON response: an entry JSON cannot write is a miss, not a 500.
    json: true,
    secret: config.cacheSecret,
  };
  if (!backend.redis || !config.singleFlight) return options;
  const localMax = config.cacheLocalMax ?? DEFAULT_CACHE_LOCAL_MAX;
  return {
    ...options,
    redis: backend.redis,
    ...(localMax > 0 && { local: { max: localMax, maxSize: LOCAL_TIER_MAX_CHARACTERS, ttl: config.cacheLocalTtlMs ?? DEFAULT_CACHE_LOCAL_TTL_MS } }),
    distributed: config.fleetFlights ?? true,
  };
}

/** One line for the start-up log: what the fleet options turned on. */
export function describeFleet(options: SingleFlightModuleOptions): string {
  if (!options.redis) return 'none (one instance: in-memory cache, or SINGLE_FLIGHT=off)';
  const local = options.local
    ? `local tier of at most ${options.local.max.toLocaleString('en-US')} entries (changes made around the app seen within ${(options.local.ttl ?? 0) / 1000} s)`
    : 'no local tier (CACHE_LOCAL_MAX=0)';
  const flights = options.distributed ? 'fleet-wide flights' : 'flights per instance (CACHE_FLEET_FLIGHTS=off)';
  return `${local}, invalidation bus and ${flights}, on the cache's Redis connection`;
}
