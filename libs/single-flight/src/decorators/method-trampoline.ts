import { SingleFlightConfigError } from '../errors.js';
import { EXECUTOR, ORIGINAL_METHOD } from '../single-flight.constants.js';
import { checkCombination, describeMethod, readMethodMetadata } from './method-metadata.js';

export type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

/** The per-application object the explorer installs under EXECUTOR. */
export interface MethodExecutor {
  call(instance: object, trampoline: AnyFunction, original: AnyFunction, args: unknown[]): unknown;
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
