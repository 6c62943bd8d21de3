/** Counts calls of `methods` on `target` and passes them through unchanged. */
export function countCalls<T extends object, K extends keyof T & string>(target: T, methods: K[]): Record<K, number> {
  const counts = Object.fromEntries(methods.map((m) => [m, 0])) as Record<K, number>;
  for (const method of methods) {
    const original = (target[method] as Function).bind(target);
    (target as Record<string, unknown>)[method] = (...args: unknown[]) => (counts[method]++, original(...args));
  }
  return counts;
}

/**
 * Round trips to a CACHE_MANAGER's shared (last) Keyv store, counted where the library makes
 * them: `reads` (getMany: an entry with its tags' tokens) and `writes` (set: entries and tokens).
 */
export function countStoreTrips(cache: { stores: object[] }): { reads: number; writes: number } {
  const store = cache.stores.at(-1) as { getMany: Function; set: Function };
  const counts = countCalls(store, ['getMany', 'set']);
  return {
    get reads() {
      return counts.getMany;
    },
    get writes() {
      return counts.set;
    },
  };
}
