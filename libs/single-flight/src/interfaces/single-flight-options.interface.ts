import type { KeyFunction } from './method-types.interface.js';

export interface SingleFlightOptions<A extends unknown[] = any[], This = any> {
  /** Key from the method's arguments (AbortSignals left out). With `@Cached`, give the key to one of them. */
  key?: KeyFunction<A, This>;
  /** How long one caller waits (ms) before it alone is rejected with a FlightTimeoutError. Default: the module's. */
  timeout?: number;
  /** After this (ms) the flight is forgotten and its waiters rejected. Default: the module's. */
  hardTimeout?: number;
  /** Key scope instead of the class name. */
  namespace?: string;
  /** Hand every caller one deeply frozen value instead of its own copy (hot paths). */
  freeze?: boolean;
  /**
   * One load per key for the whole fleet, not only per process: a lease in Redis elects the
   * loader, the other processes wait for its entry and read it (needs `@Cached` and the module's
   * `redis`). Default: the module's `distributed`.
   */
  distributed?: boolean;
  /**
   * With `@Cached({ staleIfError })` and a stale value: a load slower than this (ms) hands its
   * callers the stale value and goes on in the background. Default: the module's, else none.
   */
  softTimeout?: number;
}
