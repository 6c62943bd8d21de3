import { CACHE_MANAGER } from '@nestjs/cache-manager';
import type { FactoryProvider } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { CachedExecutor } from './cached-executor.js';
import { validateOptions } from './decorators/validate-options.js';
import { FlightRegistry } from './flight-registry.js';
import type { SingleFlightModuleOptions } from './interfaces/single-flight-module-options.interface.js';
import { ResilientCache } from './resilient-cache.js';
import { DEFAULT_CIRCUIT_BREAKER, DEFAULT_HARD_TIMEOUT, DEFAULT_KEY_PREFIX, DEFAULT_STORE_TIMEOUT } from './single-flight.constants.js';
import { SINGLE_FLIGHT_MODULE_OPTIONS } from './single-flight.module-definition.js';
import { devalueSerializer } from './value-codec.js';

const WHERE = 'SingleFlightModule.forRoot()';

/** Validates the module options (forRoot and forRootAsync alike) and builds the application's executor. */
export function createExecutor(options: SingleFlightModuleOptions, registry: FlightRegistry, cache?: Cache): CachedExecutor {
  validateOptions(WHERE, options, {
    ttl: 'positive',
    keyPrefix: 'string',
    timeout: 'positive',
    hardTimeout: 'positive',
    storeTimeout: 'positive',
    circuitBreaker: 'object',
    freeze: 'boolean',
    serializer: 'object',
    enabled: 'boolean',
    // ConfigurableModuleBuilder passes its extras along with the options.
    isGlobal: 'boolean',
  });
  const breaker = options.circuitBreaker === false ? false : { ...DEFAULT_CIRCUIT_BREAKER, ...options.circuitBreaker };
  if (breaker) validateOptions(`${WHERE} circuitBreaker`, breaker, { failureThreshold: 'positive', resetTimeout: 'positive' });
  if (options.serializer) validateOptions(`${WHERE} serializer`, options.serializer, { encode: 'function', decode: 'function' });
  const resilient = cache
    ? new ResilientCache(cache, { operationTimeout: options.storeTimeout ?? DEFAULT_STORE_TIMEOUT, circuitBreaker: breaker })
    : undefined;
  return new CachedExecutor(registry, resilient, {
    keyPrefix: options.keyPrefix ?? DEFAULT_KEY_PREFIX,
    ttl: options.ttl,
    timeout: options.timeout,
    hardTimeout: options.hardTimeout ?? DEFAULT_HARD_TIMEOUT,
    freeze: options.freeze ?? false,
    enabled: options.enabled ?? true,
    serializer: options.serializer ?? devalueSerializer,
  });
}

export const executorProvider: FactoryProvider<CachedExecutor> = {
  provide: CachedExecutor,
  useFactory: createExecutor,
  inject: [SINGLE_FLIGHT_MODULE_OPTIONS, FlightRegistry, { token: CACHE_MANAGER, optional: true }],
};
