import type { CircuitBreakerOptions } from '../circuit-breaker.js';
import type { ValueSerializer } from '../value-codec.js';

export interface SingleFlightModuleOptions {
  /** Default entry ttl (ms) for `@Cached`. Default: the CACHE_MANAGER's own default. */
  ttl?: number;
  /** Prefix of every key the library writes. Keep it different from the Keyv namespace. Default `'sf:'`. */
  keyPrefix?: string;
  /** Default per-caller wait (ms) for `@SingleFlight`. Default: none. */
  timeout?: number;
  /** Default hard timeout (ms) of a flight. Default 30,000. */
  hardTimeout?: number;
  /** A cache operation slower than this (ms) counts as failed. Default 500. */
  storeTimeout?: number;
  /** Breaker around the cache store, or `false`. Default `{ failureThreshold: 5, resetTimeout: 10_000 }`. */
  circuitBreaker?: CircuitBreakerOptions | false;
  /** Default for `freeze` on the decorators. Default `false` (each caller gets its own copy). */
  freeze?: boolean;
  /** How values are written to the store. Default: devalue. */
  serializer?: ValueSerializer;
  /** `false` is a kill switch: decorated methods run as if undecorated. Default `true`. */
  enabled?: boolean;
}
