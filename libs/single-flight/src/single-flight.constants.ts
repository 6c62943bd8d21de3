export const CACHED_METADATA = 'single-flight:cached';
export const SINGLE_FLIGHT_METADATA = 'single-flight:single-flight';
export const CACHE_EVICT_METADATA = 'single-flight:cache-evict';
// Symbol.for: two copies of the library in one node_modules still recognise each other's marks.
/** Where the explorer installs the per-application executor on a provider instance (or prototype). */
export const EXECUTOR = Symbol.for('single-flight:executor');
/** Marks a trampoline and points to the method it wraps. */
export const ORIGINAL_METHOD = Symbol.for('single-flight:original-method');
/** Which method made the module ('forRoot' or 'forRootAsync'), for error messages. */
export const OPTIONS_SOURCE = Symbol('single-flight:options-source');

export const DEFAULT_KEY_PREFIX = 'sf:';
export const DEFAULT_HARD_TIMEOUT = 30_000;
export const DEFAULT_STORE_TIMEOUT = 500;
export const DEFAULT_CIRCUIT_BREAKER = { failureThreshold: 5, resetTimeout: 10_000 } as const;
