import { ConfigError, configFromEnv, redact } from './app-config.js';

describe('configuration from the environment', () => {
  it('defaults to the embedded database, the memory cache, port 3000 and the decorators on', () => {
    expect(configFromEnv({})).toEqual({
      databaseUrl: undefined,
      redisUrl: undefined,
      port: 3000,
      singleFlight: true,
      fleetFlights: true,
      cacheKeyPrefix: 'incidents:',
      statementTimeoutMs: 5_000,
      hardTimeoutMs: 10_000,
      cacheSecret: undefined,
      cacheLocalMax: 10_000,
      cacheLocalTtlMs: 5_000,
      cacheTtlMs: 30_000,
    });
  });

  it('takes CACHE_SECRET of at least 16 bytes, and refuses a shorter one without showing it', () => {
    expect(configFromEnv({ CACHE_SECRET: 'k6Vd9q2h1mZrX0bYc3fWnA8sJ5tLpE7u' }).cacheSecret).toBe('k6Vd9q2h1mZrX0bYc3fWnA8sJ5tLpE7u');
    expect(() => configFromEnv({ CACHE_SECRET: 'hunter2' })).toThrow(new ConfigError('CACHE_SECRET must be at least 16 bytes (openssl rand -base64 32 makes one), got 7'));
  });

  it('reads every variable', () => {
    expect(
      configFromEnv({
        DATABASE_URL: 'postgres://u:p@db:5432/x',
        REDIS_URL: 'redis://cache:6379',
        PORT: '8080',
        SINGLE_FLIGHT: 'off',
        CACHE_FLEET_FLIGHTS: 'off',
        CACHE_KEY_PREFIX: 'a:',
        DB_STATEMENT_TIMEOUT_MS: '250',
        SINGLE_FLIGHT_HARD_TIMEOUT_MS: '2000',
        CACHE_SECRET: 'k6Vd9q2h1mZrX0bYc3fWnA8sJ5tLpE7u',
        CACHE_LOCAL_MAX: '500',
        CACHE_LOCAL_TTL_MS: '2000',
        CACHE_TTL_MS: '1500',
      }),
    ).toEqual({
      databaseUrl: 'postgres://u:p@db:5432/x',
      redisUrl: 'redis://cache:6379',
      port: 8080,
      singleFlight: false,
      fleetFlights: false,
      cacheKeyPrefix: 'a:',
      statementTimeoutMs: 250,
      hardTimeoutMs: 2_000,
      cacheSecret: 'k6Vd9q2h1mZrX0bYc3fWnA8sJ5tLpE7u',
      cacheLocalMax: 500,
      cacheLocalTtlMs: 2_000,
      cacheTtlMs: 1_500,
    });
  });

  it('takes CACHE_FLEET_FLIGHTS on or off, in any case', () => {
    expect(configFromEnv({ CACHE_FLEET_FLIGHTS: 'OFF' }).fleetFlights).toBe(false);
    expect(configFromEnv({ CACHE_FLEET_FLIGHTS: 'on' }).fleetFlights).toBe(true);
  });

  it('takes CACHE_LOCAL_MAX=0: no local tier', () => {
    expect(configFromEnv({ CACHE_LOCAL_MAX: '0' }).cacheLocalMax).toBe(0);
  });

  it.each([
    [{ PORT: 'eighty' }, /PORT must be a port number, got "eighty"/],
    [{ PORT: '70000' }, /PORT must be a port number/],
    [{ SINGLE_FLIGHT: 'maybe' }, /SINGLE_FLIGHT must be "on" or "off"/],
    [{ SINGLE_FLIGHT: '' }, /SINGLE_FLIGHT must be "on" or "off", got ""/],
    [{ CACHE_FLEET_FLIGHTS: 'false' }, /CACHE_FLEET_FLIGHTS must be "on" or "off", got "false"/],
    [{ DATABASE_URL: 'localhost:5432' }, /DATABASE_URL must start with postgres:\/\/ or postgresql:\/\//],
    [{ DATABASE_URL: 'not a url' }, /DATABASE_URL is not a URL/],
    [{ REDIS_URL: 'http://cache' }, /REDIS_URL must start with redis:\/\/ or rediss:\/\//],
    [{ DB_STATEMENT_TIMEOUT_MS: '5s' }, /DB_STATEMENT_TIMEOUT_MS must be a whole number of milliseconds above 0, got "5s"/],
    [{ DB_STATEMENT_TIMEOUT_MS: '0' }, /DB_STATEMENT_TIMEOUT_MS must be a whole number/],
    [{ SINGLE_FLIGHT_HARD_TIMEOUT_MS: '-1' }, /SINGLE_FLIGHT_HARD_TIMEOUT_MS must be a whole number/],
    [{ DB_STATEMENT_TIMEOUT_MS: '10000' }, /DB_STATEMENT_TIMEOUT_MS \(10000\) must be below SINGLE_FLIGHT_HARD_TIMEOUT_MS \(10000\)/],
    [{ CACHE_LOCAL_MAX: 'lots' }, /CACHE_LOCAL_MAX must be a whole number of entries from 0 \(the local tier off\) to 1000000, got "lots"/],
    [{ CACHE_LOCAL_MAX: '-1' }, /CACHE_LOCAL_MAX must be a whole number of entries/],
    [{ CACHE_LOCAL_MAX: '1e4' }, /CACHE_LOCAL_MAX must be a whole number of entries/],
    [{ CACHE_LOCAL_MAX: '1000001' }, /CACHE_LOCAL_MAX must be a whole number of entries from 0 \(the local tier off\) to 1000000, got "1000001"/],
    [{ CACHE_LOCAL_TTL_MS: '0' }, /CACHE_LOCAL_TTL_MS must be a whole number of milliseconds above 0, got "0"/],
    [{ CACHE_TTL_MS: '30s' }, /CACHE_TTL_MS must be a whole number of milliseconds above 0, got "30s"/],
    [{ CACHE_LOCAL_TTL_MS: '5s' }, /CACHE_LOCAL_TTL_MS must be a whole number of milliseconds above 0/],
  ])('refuses %j, naming the variable', (env, message) => {
    expect(() => configFromEnv(env)).toThrow(ConfigError);
    expect(() => configFromEnv(env)).toThrow(message);
  });

  it('hides passwords in what it logs', () => {
    expect(redact('postgres://app:s3cret@db:5432/x')).toBe('postgres://app:***@db:5432/x');
  });
});
