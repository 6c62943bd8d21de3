import { SINGLE_FLIGHT_METADATA } from '../single-flight.constants.js';
import type { SingleFlightOptions } from '../interfaces/single-flight-options.interface.js';
import { decorateMethod, describeMethod } from './method-trampoline.js';
import { validateOptions } from './validate-options.js';

/**
 * Coalesces concurrent calls with the same key: one runs the method, the others await the same
 * outcome (result or error), each getting its own copy. An AbortSignal argument cancels only its
 * caller and is left out of the key.
 */
export function SingleFlight(options: SingleFlightOptions = {}): MethodDecorator {
  return (target, propertyKey, descriptor) => {
    validateOptions(`${describeMethod(target, propertyKey)} @SingleFlight()`, options, {
      key: 'function',
      timeout: 'positive',
      hardTimeout: 'positive',
      namespace: 'namespace',
      freeze: 'boolean',
    });
    return decorateMethod(target, propertyKey, descriptor, SINGLE_FLIGHT_METADATA, '@SingleFlight()', options) as never;
  };
}
