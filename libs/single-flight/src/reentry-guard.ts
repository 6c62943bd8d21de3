import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The keys whose flights the current async context is running inside. A decorated method that
 * calls itself with the same key (recursion, an override calling a decorated `super` method)
 * would otherwise join its own flight and wait for itself until the hard timeout.
 */
const running = new AsyncLocalStorage<readonly string[]>();

/** Is this call made from inside the flight of `key`? */
export const insideFlightOf = (key: string): boolean => running.getStore()?.includes(key) ?? false;

/** Runs a flight's work with `key` marked as running, for everything it calls. */
export function runFlightOf<T>(key: string, work: () => T): T {
  const outer = running.getStore();
  return running.run(outer ? [...outer, key] : [key], work);
}
