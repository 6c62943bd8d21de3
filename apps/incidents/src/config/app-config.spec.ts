import { ConfigError, configFromEnv, redact } from './app-config.js';

describe('configuration from the environment', () => {
  it('defaults to the embedded database, the memory cache, port 3000 and the decorators on', () => {
    expect(configFromEnv({})).toEqual({ databaseUrl: undefined, redisUrl: undefined, port: 3000, singleFlight: true, cacheKeyPrefix: 'incidents:' });
  });

  it('reads every variable', () => {
    expect(
      configFromEnv({ DATABASE_URL: 'postgres://u:p@db:5432/x', REDIS_URL: 'redis://cache:6379', PORT: '8080', SINGLE_FLIGHT: 'off', CACHE_KEY_PREFIX: 'a:' }),
    ).toEqual({ databaseUrl: 'postgres://u:p@db:5432/x', redisUrl: 'redis://cache:6379', port: 8080, singleFlight: false, cacheKeyPrefix: 'a:' });
  });

  it.each([
    [{ PORT: 'eighty' }, /PORT must be a port number, got "eighty"/],
    [{ PORT: '70000' }, /PORT must be a port number/],
    [{ SINGLE_FLIGHT: 'maybe' }, /SINGLE_FLIGHT must be "on" or "off"/],
    [{ DATABASE_URL: 'localhost:5432' }, /DATABASE_URL must start with postgres:\/\/ or postgresql:\/\//],
    [{ DATABASE_URL: 'not a url' }, /DATABASE_URL is not a URL/],
    [{ REDIS_URL: 'http://cache' }, /REDIS_URL must start with redis:\/\/ or rediss:\/\//],
  ])('refuses %j, naming the variable', (env, message) => {
    expect(() => configFromEnv(env)).toThrow(ConfigError);
    expect(() => configFromEnv(env)).toThrow(message);
  });

  it('hides passwords in what it logs', () => {
    expect(redact('postgres://app:s3cret@db:5432/x')).toBe('postgres://app:***@db:5432/x');
  });
});
