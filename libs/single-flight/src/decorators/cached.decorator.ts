import { CACHED_METADATA } from '../single-flight.constants.js';
import type { CachedOptions } from '../interfaces/cached-options.interface.js';
import type { CacheableMethod, TypedMethodDecorator } from '../interfaces/method-types.interface.js';
import { EXPIRY_OPTION_RULES, validateOptions } from '../validate-options.js';
import { describeMethod } from './method-metadata.js';
import { decorateMethod } from './method-trampoline.js';

/**
 * Caches the method's result in the CACHE_MANAGER under `prefix + Class.method + ':' + args`.
 * With `@SingleFlight()` the cache read happens inside the flight: a burst on a cold key costs
 * one read, one load and one write. Values come back with their types (Date, Map, BigInt...).
 * The method must return a promise; annotated `key` and `tags` functions are checked against its parameters.
 *
 * Past its ttl a value may still serve, stale: `staleWhileRevalidate` hands it out while one
 * background refresh runs; `staleIfError` hands it out when the load fails (or outlasts
 * `softTimeout`). An evicted value is never served, stale or not.
 *
 * @example
 * @Cached({ ttl: 30_000, tags: (id: string) => [`incident:${id}`] })
 * @SingleFlight()
 * get(id: string) { return this.repo.findOneBy({ id }); }
 */
export function Cached<A extends unknown[] = any[], This = any>(options: CachedOptions<A, This> = {}): TypedMethodDecorator<CacheableMethod<A>, This> {
  return ((target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor) => {
    validateOptions(`${describeMethod(target, propertyKey)} @Cached()`, options, {
      ttl: 'positive',
      key: 'function',
      tags: 'tags',
      namespace: 'namespace',
      freeze: 'boolean',
      json: 'boolean',
      local: 'boolean',
      ...EXPIRY_OPTION_RULES,
    });
    return decorateMethod(target, propertyKey, descriptor, CACHED_METADATA, '@Cached()', options);
  }) as never;
}
