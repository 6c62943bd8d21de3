import type { KeyFunction, TagList } from './method-types.interface.js';

export interface CachedOptions<A extends unknown[] = any[], This = any> {
  /** Time to live of the entry, in ms. Default: the module's `ttl`, else CACHE_MANAGER's default; with none, no expiry. */
  ttl?: number;
  /**
   * Key from the method's arguments (AbortSignals left out). Default: all the arguments.
   * Called with `this` set to the instance (use a `function`, not an arrow, to read it).
   */
  key?: KeyFunction<A, This>;
  /** Tags to invalidate the entry by with `@CacheEvict`: strings and functions of the arguments (`this` is the instance). */
  tags?: TagList<A, This>;
  /** Key scope instead of the class name, e.g. to share entries between classes. */
  namespace?: string;
  /** Hand every caller one deeply frozen value instead of its own copy (hot paths). */
  freeze?: boolean;
  /**
   * The value is sent as JSON (the method feeds an HTTP response): a value JSON cannot write (a
   * BigInt) is neither cached nor taken from the cache, so a forged entry cannot turn into a 500.
   * Default: on for controller handlers, else the module's `json` (false). An application that
   * taught JSON to write BigInts (`BigInt.prototype.toJSON`) is not refused them.
   */
  json?: boolean;
  /** Use the module's local tier (`forRoot({ local })`) for this method. Default: true when the module has one. */
  local?: boolean;
  /**
   * For this long (ms) after `ttl`, a caller gets the stale value at once and one background
   * refresh runs (joined by any load of the key: one load in total). As HTTP's
   * `stale-while-revalidate` (RFC 5861). Needs a ttl. Default: the module's, else 0 (off).
   */
  staleWhileRevalidate?: number;
  /**
   * For this long (ms) after `ttl`, a load that fails (or outlasts `softTimeout`) hands out the stale
   * value instead of the error; the error is logged, and the key is not loaded again for
   * `refreshBackoff`. As HTTP's `stale-if-error` (RFC 5861). Needs a ttl. Default: the module's, else 0 (off).
   */
  staleIfError?: number;
  /**
   * With a stale value within `staleIfError`: a load slower than this (ms) hands its callers the
   * stale value and goes on in the background, writing its value when it succeeds (`hardTimeout`
   * still bounds it). Here or on `@SingleFlight`. Default: the module's, else none.
   */
  softTimeout?: number;
  /**
   * A hit after this fraction of the value's ttl, in (0, 1), starts one background refresh, so a
   * hot key is refreshed before it expires in front of its callers. Needs a ttl. Default: the module's, else off.
   */
  refreshAhead?: number;
  /** In [0, 1): each write's ttl is cut by a random fraction up to this, so keys written together do not expire together. Default: the module's, else 0. */
  jitter?: number;
  /** After a refresh of a stale value fails, its key is not loaded again for this long (ms); its stale value is served. Default: the module's, else 5,000. */
  refreshBackoff?: number;
}

export type { KeyFunction };
