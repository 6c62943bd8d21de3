import type { CircuitBreakerOptions } from '../circuit-breaker.js';
import type { SigningSecret } from '../entry-signature.js';
import type { LocalTierOptions } from '../local-tier.js';
import type { RedisOption } from '../redis-link.js';
import type { ValueSerializer } from '../value-codec.js';
import type { DecodeLimits } from '../value-limits.js';

export interface SingleFlightModuleOptions {
  /** Default entry ttl (ms) for `@Cached`. Default: CACHE_MANAGER's default ttl; with none, entries never expire. */
  ttl?: number;
  /** Prefix of every key the library writes. Keep it different from the Keyv namespace. Default `'sf:'`. */
  keyPrefix?: string;
  /**
   * Read on every call, in the caller's context (AsyncLocalStorage works, e.g. nestjs-cls): its value
   * is part of every key and every flight, so callers with different values never share an entry
   * or a flight. Typically the tenant: `vary: () => cls.get('tenantId')`.
   */
  vary?: () => unknown;
  /** Default per-caller wait (ms) for `@SingleFlight`. Default: none. */
  timeout?: number;
  /** Default hard timeout (ms) of a flight. Default 30,000. */
  hardTimeout?: number;
  /** A cache operation slower than this (ms) counts as failed. Default 500. */
  storeTimeout?: number;
  /** Breaker around each cache store, or `false`. Default `{ failureThreshold: 5, resetTimeout: 10_000 }`. */
  circuitBreaker?: CircuitBreakerOptions | false;
  /**
   * Lifetime (ms) of tag version tokens. Default: derived at start from the ttls of the `@Cached`
   * methods (the longest plus `hardTimeout`, at least an hour); no expiry if one has no known ttl.
   */
  tagTtl?: number;
  /** Default for `freeze` on the decorators. Default `false` (each caller gets its own copy). */
  freeze?: boolean;
  /** How values are written to the store. Default: devalue. */
  serializer?: ValueSerializer;
  /**
   * Bounds on what a cache entry may decode to; an entry beyond them is a miss (and replaced), and a
   * value beyond them is not cached. Default `{ maxLength: 8 MiB, maxDepth: 64 }`.
   */
  decodeLimits?: DecodeLimits;
  /**
   * Signs every entry (HMAC-SHA256 of its content and key): one that does not verify is a miss, so
   * write access to the store is not enough to feed the application data. At least 16 bytes; an
   * array while rotating (the first signs, all verify). Keep it out of the code (an env variable).
   */
  secret?: SigningSecret;
  /** Default for `json` on `@Cached`: every cached value is sent as JSON (an HTTP API). Default `false`. */
  json?: boolean;
  /**
   * An in-process tier in front of CACHE_MANAGER, holding decoded values: a hit costs no round trip
   * and no decode. `@Cached` methods use it unless they say `local: false`. An entry is dropped
   * when this process invalidates one of its tags, and when another process does, once the bus
   * (`redis`) delivers it; without a bus, `local.ttl` (at most 10 s, default 1 s) bounds how long
   * another process's eviction can go unseen here. Default `false`.
   */
  local?: LocalTierOptions | false;
  /**
   * Redis for the invalidation bus and fleet-wide flights: an ioredis client (the module duplicates
   * it for its subscription and leaves the client itself to the application) or a URL (the module
   * connects and disconnects). Entries still go through CACHE_MANAGER.
   */
  redis?: RedisOption;
  /** Default for `@SingleFlight({ distributed })`: one load per key for the whole fleet (needs `redis`). Default `false`. */
  distributed?: boolean;
  /**
   * Fleet-wide flights: how long (ms) a holder owns a key without renewing (it renews while it
   * loads, up to `hardTimeout`); a holder that dies is taken over after this. Default 5,000.
   */
  lease?: number;
  /** Default `staleWhileRevalidate` (ms) for `@Cached` methods. Default 0 (off). */
  staleWhileRevalidate?: number;
  /** Default `staleIfError` (ms) for `@Cached` methods. Default 0 (off). */
  staleIfError?: number;
  /** Default `softTimeout` (ms); applies only where a method has a `staleIfError` window. Default: none. */
  softTimeout?: number;
  /** Default `refreshAhead` (a fraction of the ttl, in (0, 1)) for `@Cached` methods. Default: off. */
  refreshAhead?: number;
  /** Default `jitter` (in [0, 1)) for `@Cached` methods. Default 0. */
  jitter?: number;
  /** Default `refreshBackoff` (ms): after a failed refresh, its key is not loaded again for this long. Default 5,000. */
  refreshBackoff?: number;
  /** `false` is a kill switch: decorated methods run as if undecorated. Default `true`. */
  enabled?: boolean;
}
