import { configFromEnv } from '../config/app-config.js';
import { cacheBackend, type CacheBackend } from './cache-backend.js';
import { describeFleet, LOCAL_TIER_MAX_CHARACTERS, singleFlightOptions } from './single-flight-options.js';

// What AppModule.forRoot does: the backend from the configuration, then the module options from both.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const backends: CacheBackend[] = [];
const build = (env: NodeJS.ProcessEnv) => {
  const config = configFromEnv(env);
  const backend = cacheBackend(config);
  backends.push(backend);
  return { backend, options: singleFlightOptions(config, backend) };
};
afterAll(() => Promise.all(backends.map((backend) => backend.close())));

describe('the SingleFlightModule options the app builds', () => {
  it('without REDIS_URL: no local tier, no bus, local flights (the memory store is in-process already)', () => {
    const { backend, options } = build({});
    expect(backend.redis).toBeUndefined();
    expect(options).toEqual({ ttl: 30_000, keyPrefix: 'incidents:', enabled: true, hardTimeout: 10_000, json: true, secret: undefined });
    expect(options).not.toHaveProperty('local');
    expect(options).not.toHaveProperty('redis');
    expect(options).not.toHaveProperty('distributed');
    expect(describeFleet(options)).toMatch(/^none/);
  });

  it('with REDIS_URL: the cache store’s own ioredis client for the bus, the local tier, fleet-wide flights', () => {
    const { backend, options } = build({ REDIS_URL, CACHE_KEY_PREFIX: 'fleet-options:' });
    expect(backend.redis).toBeDefined();
    // The very client of the cache store, not a URL: the library adds only its subscription.
    expect(options.redis).toBe(backend.redis);
    expect(options).toMatchObject({
      ttl: 30_000,
      keyPrefix: 'fleet-options:',
      enabled: true,
      json: true,
      local: { max: 10_000, maxSize: LOCAL_TIER_MAX_CHARACTERS, ttl: 5_000 },
      distributed: true,
    });
    expect(describeFleet(options)).toBe(
      "local tier of at most 10,000 entries (changes made around the app seen within 5 s), invalidation bus and fleet-wide flights, on the cache's Redis connection",
    );
  });

  it('takes CACHE_LOCAL_MAX and CACHE_LOCAL_TTL_MS; CACHE_LOCAL_MAX=0 keeps the bus and fleet-wide flights without a local tier', () => {
    expect(build({ REDIS_URL, CACHE_LOCAL_MAX: '500', CACHE_LOCAL_TTL_MS: '2000' }).options.local).toEqual({ max: 500, maxSize: LOCAL_TIER_MAX_CHARACTERS, ttl: 2_000 });
    const { backend, options } = build({ REDIS_URL, CACHE_LOCAL_MAX: '0' });
    expect(options).not.toHaveProperty('local');
    expect(options.redis).toBe(backend.redis);
    expect(options.distributed).toBe(true);
  });

  it('with CACHE_FLEET_FLIGHTS=off: flights per instance, the local tier and the bus kept', () => {
    const { backend, options } = build({ REDIS_URL, CACHE_FLEET_FLIGHTS: 'off' });
    expect(options.redis).toBe(backend.redis);
    expect(options.distributed).toBe(false);
    expect(options.local).toEqual({ max: 10_000, maxSize: LOCAL_TIER_MAX_CHARACTERS, ttl: 5_000 });
    expect(describeFleet(options)).toBe(
      "local tier of at most 10,000 entries (changes made around the app seen within 5 s), invalidation bus and flights per instance (CACHE_FLEET_FLIGHTS=off), on the cache's Redis connection",
    );
  });

  it('ignores CACHE_FLEET_FLIGHTS without REDIS_URL: one instance, its flights are its own', () => {
    expect(build({ CACHE_FLEET_FLIGHTS: 'off' }).options).not.toHaveProperty('distributed');
  });

  it('ignores CACHE_LOCAL_MAX without REDIS_URL', () => {
    expect(build({ CACHE_LOCAL_MAX: '500' }).options).not.toHaveProperty('local');
  });

  it('with SINGLE_FLIGHT=off (the kill switch): nothing for a bus to do, so none is connected', () => {
    const { options } = build({ REDIS_URL, SINGLE_FLIGHT: 'off' });
    expect(options.enabled).toBe(false);
    expect(options).not.toHaveProperty('redis');
    expect(options).not.toHaveProperty('local');
    expect(options).not.toHaveProperty('distributed');
  });
});
