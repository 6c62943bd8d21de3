import { CACHED_METADATA } from '../single-flight.constants.js';
import type { CachedOptions } from '../interfaces/cached-options.interface.js';
import { decorateMethod, describeMethod } from './method-trampoline.js';
import { validateOptions } from './validate-options.js';

/**
 * Caches the method's result in the CACHE_MANAGER under `prefix + Class.method + ':' + args`.
 * With `@SingleFlight()` the cache read happens inside the flight: a burst on a cold key costs
 * one read, one load and one write. Values come back with their types (Date, Map, BigInt...).
 *
 * @example
 * @Cached({ ttl: 30_000, tags: (id: string) => [`incident:${id}`] })
 * @SingleFlight()
 * get(id: string) { return this.repo.findOneBy({ id }); }
 */
export function Cached(options: CachedOptions = {}): MethodDecorator {
  return (target, propertyKey, descriptor) => {
    validateOptions(`${describeMethod(target, propertyKey)} @Cached()`, options, {
      ttl: 'positive',
      key: 'function',
      tags: 'tags',
      namespace: 'namespace',
      freeze: 'boolean',
    });
    return decorateMethod(target, propertyKey, descriptor, CACHED_METADATA, '@Cached()', options) as never;
  };
}
