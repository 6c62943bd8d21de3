import type { CircuitBreakerOptions } from './circuit-breaker.js';
import type { SingleFlightModuleOptions } from './interfaces/single-flight-module-options.interface.js';
import { DEFAULT_CIRCUIT_BREAKER, DEFAULT_HARD_TIMEOUT, DEFAULT_KEY_PREFIX, DEFAULT_STORE_TIMEOUT } from './single-flight.constants.js';
import { assertStaleIfErrorReachable } from './expiry-policy.js';
import { EXPIRY_OPTION_RULES, validateOptions } from './validate-options.js';
import { devalueSerializer, type ValueSerializer } from './value-codec.js';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './value-limits.js';
import { EntrySignature } from './entry-signature.js';
import { SingleFlightConfigError } from './errors.js';
import { DEFAULT_LEASE } from './fleet-flight.js';
import { DEFAULT_REFRESH_BACKOFF, type ExpiryOptions } from './expiry-policy.js';
import { LOCAL_TTL_WITHOUT_BUS_DEFAULT, LOCAL_TTL_WITHOUT_BUS_MAX, type LocalTierOptions } from './local-tier.js';
import type { RedisOption } from './redis-link.js';

/** The module options, checked and with their defaults (the freshness ones: defaults for `@Cached`). */
export interface ExecutorSettings extends Omit<ExpiryOptions, 'ttl'> {
  keyPrefix: string;
  ttl?: number;
  vary?: () => unknown;
  timeout?: number;
  hardTimeout: number;
  storeTimeout: number;
  circuitBreaker: Required<CircuitBreakerOptions> | false;
  tagTtl?: number;
  freeze: boolean;
  json: boolean;
  enabled: boolean;
  serializer: ValueSerializer;
  decodeLimits: Required<DecodeLimits>;
  /** Signs and verifies entries; undefined without a `secret`. */
  signature?: EntrySignature;
  /** The local tier, its `ttl` resolved (undefined: the method's); undefined without one. */
  local?: LocalTierOptions;
  redis?: RedisOption;
  distributed: boolean;
  lease: number;
}

/** Validates the options of `forRoot()` or `forRootAsync()` (named in errors by `where`) and fills in the defaults. */
export function resolveModuleOptions(options: SingleFlightModuleOptions, where: string): ExecutorSettings {
  validateOptions(where, options, {
    ttl: 'positive',
    keyPrefix: 'string',
    vary: 'function',
    timeout: 'positive',
    hardTimeout: 'positive',
    storeTimeout: 'positive',
    circuitBreaker: 'objectOrFalse',
    tagTtl: 'positive',
    freeze: 'boolean',
    json: 'boolean',
    serializer: 'object',
    enabled: 'boolean',
    decodeLimits: 'object',
    secret: 'secret',
    local: 'objectOrFalse',
    redis: 'redis',
    distributed: 'boolean',
    lease: 'positive',
    ...EXPIRY_OPTION_RULES,
    // ConfigurableModuleBuilder passes its extras along with the options.
    isGlobal: 'boolean',
  });
  const circuitBreaker = options.circuitBreaker === false ? false : { ...DEFAULT_CIRCUIT_BREAKER, ...options.circuitBreaker };
  if (circuitBreaker) validateOptions(`${where} circuitBreaker`, circuitBreaker, { failureThreshold: 'positive', resetTimeout: 'positive' });
  assertStaleIfErrorReachable(where, options.staleIfError ?? 0, options.staleWhileRevalidate ?? 0);
  if (options.serializer) validateOptions(`${where} serializer`, options.serializer, { encode: 'function', decode: 'function' });
  const local = resolveLocal(options, where);
  if (options.distributed && !options.redis) {
    throw new SingleFlightConfigError(`${where}: option "distributed" needs "redis" (an ioredis client or a URL): fleet-wide flights take their leases there`);
  }
  const hardTimeout = options.hardTimeout ?? DEFAULT_HARD_TIMEOUT;
  if (options.softTimeout !== undefined && options.softTimeout >= hardTimeout) {
    throw new SingleFlightConfigError(`${where}: softTimeout ${options.softTimeout} ms is not shorter than hardTimeout (${hardTimeout} ms), which ends a load first`);
  }
  const decodeLimits = { ...DEFAULT_DECODE_LIMITS, ...options.decodeLimits };
  validateOptions(`${where} decodeLimits`, decodeLimits, { maxLength: 'count', maxDepth: 'count' });
  return {
    keyPrefix: options.keyPrefix ?? DEFAULT_KEY_PREFIX,
    ttl: options.ttl,
    vary: options.vary,
    timeout: options.timeout,
    hardTimeout,
    storeTimeout: options.storeTimeout ?? DEFAULT_STORE_TIMEOUT,
    circuitBreaker,
    tagTtl: options.tagTtl,
    freeze: options.freeze ?? false,
    json: options.json ?? false,
    enabled: options.enabled ?? true,
    serializer: options.serializer ?? devalueSerializer,
    decodeLimits,
    signature: options.secret === undefined ? undefined : new EntrySignature(options.secret),
    local,
    redis: options.redis,
    distributed: options.distributed ?? false,
    lease: options.lease ?? DEFAULT_LEASE,
    staleWhileRevalidate: options.staleWhileRevalidate ?? 0,
    staleIfError: options.staleIfError ?? 0,
    softTimeout: options.softTimeout,
    refreshAhead: options.refreshAhead,
    jitter: options.jitter ?? 0,
    refreshBackoff: options.refreshBackoff ?? DEFAULT_REFRESH_BACKOFF,
  };
}

/** Without a bus, the local tier's lifetime is the bound on unseen evictions: short, and said so. */
function resolveLocal({ local, redis }: SingleFlightModuleOptions, where: string): LocalTierOptions | undefined {
  if (!local) return undefined;
  validateOptions(`${where} local`, local, { max: 'count', maxSize: 'count', ttl: 'positive' });
  if (local.max === undefined) throw new SingleFlightConfigError(`${where}: option "local" needs "max", the most entries it keeps (e.g. { max: 10_000 })`);
  if (redis) return { ...local };
  if (local.ttl !== undefined && local.ttl > LOCAL_TTL_WITHOUT_BUS_MAX) {
    throw new SingleFlightConfigError(
      `${where}: local.ttl ${local.ttl} ms without "redis": without the bus, another process's eviction goes unseen here for up to local.ttl, so it may be at most ${LOCAL_TTL_WITHOUT_BUS_MAX} ms. Give "redis" (an ioredis client or a URL) for the bus, or a shorter local.ttl`,
    );
  }
  return { ...local, ttl: local.ttl ?? LOCAL_TTL_WITHOUT_BUS_DEFAULT };
}
