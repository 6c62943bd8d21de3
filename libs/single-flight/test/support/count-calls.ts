/** Counts calls of `methods` on `target` and passes them through unchanged. */
export function countCalls<T extends object, K extends keyof T & string>(target: T, methods: K[]): Record<K, number> {
  const counts = Object.fromEntries(methods.map((m) => [m, 0])) as Record<K, number>;
  for (const method of methods) {
    const original = (target[method] as Function).bind(target);
    (target as Record<string, unknown>)[method] = (...args: unknown[]) => (counts[method]++, original(...args));
  }
  return counts;
}
