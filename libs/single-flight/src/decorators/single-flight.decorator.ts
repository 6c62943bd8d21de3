import { SINGLE_FLIGHT_METADATA } from '../single-flight.constants.js';
import type { CacheableMethod, TypedMethodDecorator } from '../interfaces/method-types.interface.js';
import type { SingleFlightOptions } from '../interfaces/single-flight-options.interface.js';
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
