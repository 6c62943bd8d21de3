export interface CacheEvictOptions {
  /** Tags to invalidate after the method resolves: strings, or `(result, ...args) => string[]`. */
  tags: readonly string[] | ((result: any, ...args: any[]) => readonly string[]);
}
