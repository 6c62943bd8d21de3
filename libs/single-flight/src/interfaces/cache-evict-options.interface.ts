import type { TagList } from './method-types.interface.js';

export interface CacheEvictOptions<R = any, A extends unknown[] = any[], This = any> {
  /**
   * Tags to invalidate after the method resolves: strings, and functions of `(result, ...args)`
   * (`this` is the instance). They must not throw: the write has already happened.
   */
  tags: TagList<[result: R, ...args: A], This>;
}
