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
}

export type { KeyFunction };
