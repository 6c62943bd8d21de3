import { SINGLE_FLIGHT_METADATA } from '../single-flight.constants.js';
import type { CacheableMethod, TypedMethodDecorator } from '../interfaces/method-types.interface.js';
import type { SingleFlightOptions } from '../interfaces/single-flight-options.interface.js';
import { SingleFlightConfigError } from '../errors.js';
import { validateOptions } from '../validate-options.js';
import { describeMethod } from './method-metadata.js';
import { decorateMethod } from './method-trampoline.js';

/**
 * Coalesces concurrent calls with the same key: one runs the method, the others await the same
 * outcome (result or error), each getting its own copy. An AbortSignal argument cancels only its
 * caller and is left out of the key. The method must return a promise.
 */
export function SingleFlight<A extends unknown[] = any[], This = any>(options: SingleFlightOptions<A, This> = {}): TypedMethodDecorator<CacheableMethod<A>, This> {
  return ((target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor) => {
    const misplaced = Object.keys(options).find((name) => CACHED_ONLY.has(name));
    if (misplaced) {
      throw new SingleFlightConfigError(`${describeMethod(target, propertyKey)} @SingleFlight(): "${misplaced}" is an option of @Cached(): put it there (a flight keeps nothing once it has settled)`);
    }
    validateOptions(`${describeMethod(target, propertyKey)} @SingleFlight()`, options, {
      key: 'function',
      timeout: 'positive',
      hardTimeout: 'positive',
      namespace: 'namespace',
      freeze: 'boolean',
      distributed: 'boolean',
      softTimeout: 'positive',
    });
    return decorateMethod(target, propertyKey, descriptor, SINGLE_FLIGHT_METADATA, '@SingleFlight()', options);
  }) as never;
}

/** What only a cache can do: given to @SingleFlight by mistake, it is pointed to @Cached. */
const CACHED_ONLY = new Set(['ttl', 'tags', 'staleWhileRevalidate', 'staleIfError', 'refreshAhead', 'jitter', 'refreshBackoff', 'local', 'json']);
