import 'reflect-metadata';
import { SingleFlightConfigError } from '../errors.js';
import { CACHED_METADATA, CACHE_EVICT_METADATA, SINGLE_FLIGHT_METADATA } from '../single-flight.constants.js';
import type { CachedOptions } from '../interfaces/cached-options.interface.js';
import type { CacheEvictOptions } from '../interfaces/cache-evict-options.interface.js';
import type { SingleFlightOptions } from '../interfaces/single-flight-options.interface.js';

/** What the decorators say about one method. */
export interface MethodMetadata {
  cached?: CachedOptions;
  singleFlight?: SingleFlightOptions;
  evict?: CacheEvictOptions;
}

export const describeMethod = (target: object, propertyKey: string | symbol): string =>
  `${(target as { constructor?: { name?: string } }).constructor?.name ?? 'anonymous class'}.${String(propertyKey)}`;

export function readMethodMetadata(method: unknown): MethodMetadata | undefined {
  if (typeof method !== 'function') return undefined;
  const cached = Reflect.getMetadata(CACHED_METADATA, method) as CachedOptions | undefined;
  const singleFlight = Reflect.getMetadata(SINGLE_FLIGHT_METADATA, method) as SingleFlightOptions | undefined;
  const evict = Reflect.getMetadata(CACHE_EVICT_METADATA, method) as CacheEvictOptions | undefined;
  return cached || singleFlight || evict ? { cached, singleFlight, evict } : undefined;
}

/** The options of one method that only make sense together, checked as each decorator is applied. */
export function checkCombination(where: string, { cached, singleFlight, evict }: MethodMetadata): void {
  if (evict && (cached || singleFlight)) {
    throw new SingleFlightConfigError(`${where}: @CacheEvict cannot be combined with @Cached or @SingleFlight on one method`);
  }
  if (cached?.key && singleFlight?.key && cached.key !== singleFlight.key) {
    throw new SingleFlightConfigError(`${where}: @Cached and @SingleFlight both give a \`key\`; give it to one of them (they share one key)`);
  }
  if (cached?.softTimeout !== undefined && singleFlight?.softTimeout !== undefined && cached.softTimeout !== singleFlight.softTimeout) {
    throw new SingleFlightConfigError(`${where}: @Cached and @SingleFlight give different softTimeouts; give it to one of them`);
  }
  if (cached?.namespace && singleFlight?.namespace && cached.namespace !== singleFlight.namespace) {
    throw new SingleFlightConfigError(`${where}: @Cached and @SingleFlight give different namespaces; give it to one of them`);
  }
}

/** The key function of a method, whichever decorator gave it. */
export const keyFunctionOf = (meta: MethodMetadata) => meta.cached?.key ?? meta.singleFlight?.key;

/** The key scope a method's decorators name explicitly, if any. */
export const namespaceOf = (meta: MethodMetadata) => meta.cached?.namespace ?? meta.singleFlight?.namespace;

/** The key scope of a method: its decorators' namespace, else the name of the class called. */
export const scopeOf = (meta: MethodMetadata, className: string, method: string): string => `${namespaceOf(meta) ?? className}.${method}`;

/** How long a @Cached method's entries live: its own ttl, else the module's (undefined: the store's default). */
export const ttlOf = (meta: MethodMetadata, moduleTtl: number | undefined): number | undefined => meta.cached?.ttl ?? moduleTtl;

/** Whether a method makes keys (caches or coalesces), as opposed to only evicting. */
export const makesKeys = (meta: MethodMetadata): boolean => Boolean(meta.cached || meta.singleFlight);
