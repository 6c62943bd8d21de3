import 'reflect-metadata';
import { SingleFlightConfigError } from '../errors.js';
import { CACHED_METADATA, CACHE_EVICT_METADATA, EXECUTOR, ORIGINAL_METHOD, SINGLE_FLIGHT_METADATA } from '../single-flight.constants.js';
import type { CachedOptions } from '../interfaces/cached-options.interface.js';
import type { CacheEvictOptions } from '../interfaces/cache-evict-options.interface.js';
import type { SingleFlightOptions } from '../interfaces/single-flight-options.interface.js';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

/** What the decorators say about one method. */
export interface MethodMetadata {
  cached?: CachedOptions;
  singleFlight?: SingleFlightOptions;
  evict?: CacheEvictOptions;
}

/** The per-application object the explorer installs under EXECUTOR. */
export interface MethodExecutor {
  call(instance: object, trampoline: AnyFunction, original: AnyFunction, args: unknown[]): unknown;
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

/**
 * Records `options` under `metadataKey` and makes sure the method is a trampoline: a function that
 * routes the call through the executor installed on `this` at start-up, or, before that (or on
 * an instance no module knows), calls the original method unchanged.
 */
export function decorateMethod(
  target: object,
  propertyKey: string | symbol,
  descriptor: PropertyDescriptor,
  metadataKey: string,
  decorator: string,
  options: object,
): PropertyDescriptor {
  const where = describeMethod(target, propertyKey);
  if (typeof target === 'function') {
    throw new SingleFlightConfigError(`${(target as { name: string }).name}.${String(propertyKey)}: ${decorator} goes on instance methods of providers, not static methods`);
  }
  if (typeof descriptor?.value !== 'function') {
    throw new SingleFlightConfigError(`${where}: ${decorator} goes on a method`);
  }
  const trampoline = (descriptor.value as { [ORIGINAL_METHOD]?: AnyFunction })[ORIGINAL_METHOD]
    ? (descriptor.value as AnyFunction)
    : createTrampoline(descriptor.value as AnyFunction);
  if (Reflect.hasOwnMetadata(metadataKey, trampoline)) {
    throw new SingleFlightConfigError(`${where}: ${decorator} is applied twice`);
  }
  Reflect.defineMetadata(metadataKey, options, trampoline);
  checkCombination(where, readMethodMetadata(trampoline)!);
  descriptor.value = trampoline;
  return descriptor;
}

function createTrampoline(original: AnyFunction): AnyFunction {
  const trampoline: AnyFunction = function (this: unknown, ...args: unknown[]) {
    const executor = (this as { [EXECUTOR]?: MethodExecutor } | undefined)?.[EXECUTOR];
    return executor ? executor.call(this as object, trampoline, original, args) : original.apply(this, args);
  };
  Object.defineProperty(trampoline, 'name', { value: original.name, configurable: true });
  Object.defineProperty(trampoline, 'length', { value: original.length, configurable: true });
  Object.defineProperty(trampoline, ORIGINAL_METHOD, { value: original });
  // Metadata that other decorators put on the original stays visible through the trampoline.
  Object.setPrototypeOf(trampoline, original);
  return trampoline;
}

function checkCombination(where: string, { cached, singleFlight, evict }: MethodMetadata): void {
  if (evict && (cached || singleFlight)) {
    throw new SingleFlightConfigError(`${where}: @CacheEvict cannot be combined with @Cached or @SingleFlight on one method`);
  }
  if (cached?.key && singleFlight?.key && cached.key !== singleFlight.key) {
    throw new SingleFlightConfigError(`${where}: @Cached and @SingleFlight both give a \`key\`; give it to one of them (they share one key)`);
  }
  if (cached?.namespace && singleFlight?.namespace && cached.namespace !== singleFlight.namespace) {
    throw new SingleFlightConfigError(`${where}: @Cached and @SingleFlight give different namespaces; give it to one of them`);
  }
}
