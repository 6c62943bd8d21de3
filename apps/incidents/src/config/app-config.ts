/** Everything the app reads from its environment, checked once at start. */
export interface AppConfig {
  /** PostgreSQL; without it the app starts an embedded one (see database/embedded-postgres.ts). */
  databaseUrl?: string;
  /** Redis for the shared cache; without it, a bounded in-memory store (cache/bounded-memory-store.ts). */
  redisUrl?: string;
  port: number;
  /** `SINGLE_FLIGHT=off`: the kill switch, decorators run as plain methods (for comparisons). */
  singleFlight: boolean;
  /**
   * `CACHE_FLEET_FLIGHTS=off`: with REDIS_URL, a cold read is loaded once per
   * instance instead of once for the whole fleet (no lease in Redis); the local tier and the
   * invalidation bus stay. Default on (cache/single-flight-options.ts). For comparisons
   * (`npm run demo`), or should the lease's round trips cost more than the loads they save.
   */
  fleetFlights?: boolean;
  /** Prefix of the cache keys the library writes. */
  cacheKeyPrefix: string;
  /**
   * PostgreSQL's `statement_timeout` on the app's connections (ms; default 5,000): below
   * `hardTimeoutMs`, so a stuck query is cancelled (a 503) and its connection freed before its
   * flight gives up on it.
   */
  statementTimeoutMs?: number;
  /** The single-flight hard timeout of every flight (ms; default 10,000). */
  hardTimeoutMs?: number;
  /** `CACHE_SECRET`: cache entries are signed with it, so write access to Redis cannot feed the app data. */
  cacheSecret?: string;
  /**
   * `CACHE_LOCAL_MAX`: entries of the local tier, the decoded values each instance keeps in front
   * of Redis (default 10,000; 0 turns it off). Only with REDIS_URL: the memory store is in-process already.
   */
  cacheLocalMax?: number;
  /**
   * `CACHE_LOCAL_TTL_MS`: the longest an instance serves a read from its local tier (default
   * 5,000). The app's own writes reach every instance through the bus at once; this bounds how
   * long a change made around the app (`npm run seed`, SQL by hand) can go unseen.
   */
  cacheLocalTtlMs?: number;
  /** `CACHE_TTL_MS`: how long a cached read is fresh (default 30,000); lists and stats may then be served stale a while (incidents/cache-ttls.ts). */
  cacheTtlMs?: number;
}

export const DEFAULT_STATEMENT_TIMEOUT_MS = 5_000;
export const DEFAULT_HARD_TIMEOUT_MS = 10_000;
export const DEFAULT_CACHE_LOCAL_MAX = 10_000;
export const DEFAULT_CACHE_LOCAL_TTL_MS = 5_000;
export const DEFAULT_CACHE_TTL_MS = 30_000;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function url(name: string, value: string | undefined, protocols: string[]): string | undefined {
  if (!value) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(`${name} is not a URL: "${value}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')}, got "${parsed.protocol}//"`);
  }
  return value;
}

/** An on/off switch; `fallback` when the variable is not set. */
function onOff(name: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  const normalized = value.toLowerCase();
  if (normalized !== 'on' && normalized !== 'off') throw new ConfigError(`${name} must be "on" or "off", got "${value}"`);
  return normalized === 'on';
}

function milliseconds(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const ms = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(ms) || ms < 1) throw new ConfigError(`${name} must be a whole number of milliseconds above 0, got "${value}"`);
  return ms;
}

/** lru-cache allocates its index for `max` entries up front: a typo must not take gigabytes at start. */
export const MAX_CACHE_LOCAL_MAX = 1_000_000;

function entries(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n > MAX_CACHE_LOCAL_MAX) {
    throw new ConfigError(`${name} must be a whole number of entries from 0 (the local tier off) to ${MAX_CACHE_LOCAL_MAX}, got "${value}"`);
  }
  return n;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new ConfigError(`PORT must be a port number, got "${env.PORT}"`);
  const singleFlight = onOff('SINGLE_FLIGHT', env.SINGLE_FLIGHT, true);
  const fleetFlights = onOff('CACHE_FLEET_FLIGHTS', env.CACHE_FLEET_FLIGHTS, true);
  const statementTimeoutMs = milliseconds('DB_STATEMENT_TIMEOUT_MS', env.DB_STATEMENT_TIMEOUT_MS, DEFAULT_STATEMENT_TIMEOUT_MS);
  const hardTimeoutMs = milliseconds('SINGLE_FLIGHT_HARD_TIMEOUT_MS', env.SINGLE_FLIGHT_HARD_TIMEOUT_MS, DEFAULT_HARD_TIMEOUT_MS);
  // Otherwise a stuck query outlives its flight, holding a pool connection nobody waits for.
  if (statementTimeoutMs >= hardTimeoutMs) {
    throw new ConfigError(`DB_STATEMENT_TIMEOUT_MS (${statementTimeoutMs}) must be below SINGLE_FLIGHT_HARD_TIMEOUT_MS (${hardTimeoutMs})`);
  }
  return {
    databaseUrl: url('DATABASE_URL', env.DATABASE_URL, ['postgres:', 'postgresql:']),
    redisUrl: url('REDIS_URL', env.REDIS_URL, ['redis:', 'rediss:']),
    port,
    singleFlight,
    fleetFlights,
    cacheKeyPrefix: env.CACHE_KEY_PREFIX ?? 'incidents:',
    statementTimeoutMs,
    hardTimeoutMs,
    cacheSecret: secret('CACHE_SECRET', env.CACHE_SECRET),
    cacheLocalMax: entries('CACHE_LOCAL_MAX', env.CACHE_LOCAL_MAX, DEFAULT_CACHE_LOCAL_MAX),
    cacheLocalTtlMs: milliseconds('CACHE_LOCAL_TTL_MS', env.CACHE_LOCAL_TTL_MS, DEFAULT_CACHE_LOCAL_TTL_MS),
    cacheTtlMs: milliseconds('CACHE_TTL_MS', env.CACHE_TTL_MS, DEFAULT_CACHE_TTL_MS),
  };
}

/** A signing key: at least 16 bytes, and never shown, not even when it is refused. */
function secret(name: string, value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (Buffer.byteLength(value) < 16) throw new ConfigError(`${name} must be at least 16 bytes (openssl rand -base64 32 makes one), got ${Buffer.byteLength(value)}`);
  return value;
}

/** Where credentials would show in logs. */
export const redact = (value: string): string => value.replace(/\/\/([^:/@]+):([^@]+)@/, '//$1:***@');
