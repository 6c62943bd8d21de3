/** A key function: its result (any value, canonicalised) replaces the arguments in the key. */
export type KeyFunction = (...args: any[]) => unknown;

export interface CachedOptions {
  /** Time to live of the entry, in ms. Default: the module's `ttl`, else the CACHE_MANAGER's. */
  ttl?: number;
  /** Key from the method's arguments (AbortSignals left out). Default: all the arguments. */
  key?: KeyFunction;
  /** Tags to invalidate the entry by with `@CacheEvict`: strings, or a function of the arguments. */
  tags?: readonly string[] | ((...args: any[]) => readonly string[]);
  /** Key scope instead of the class name, e.g. to share entries between classes. */
  namespace?: string;
  /** Hand every caller one deeply frozen value instead of its own copy (hot paths). */
  freeze?: boolean;
}
