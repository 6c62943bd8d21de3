import { SingleFlightConfigError } from '../errors.js';
import { CACHE_EVICT_METADATA } from '../single-flight.constants.js';
import type { CacheEvictOptions } from '../interfaces/cache-evict-options.interface.js';
import { decorateMethod, describeMethod } from './method-trampoline.js';
import { validateOptions } from './validate-options.js';

/**
 * After the method resolves, invalidates every entry cached with one of `tags`, in every process
 * sharing the store. The call resolves only once the invalidation is written, and a load that
 * began before it can never be served afterwards.
 *
 * @example
 * @CacheEvict({ tags: (incident: IncidentEvent) => ['incidents', `incident:${incident.id}`] })
 * update(id: string, dto: UpdateIncidentDto) { ... }
 */
export function CacheEvict(options: CacheEvictOptions): MethodDecorator {
  return (target, propertyKey, descriptor) => {
    const where = `${describeMethod(target, propertyKey)} @CacheEvict()`;
    validateOptions(where, options, { tags: 'tags' });
    if (!options.tags || (Array.isArray(options.tags) && options.tags.length === 0)) {
      throw new SingleFlightConfigError(`${where}: option "tags" is required (the tags to invalidate)`);
    }
    return decorateMethod(target, propertyKey, descriptor, CACHE_EVICT_METADATA, '@CacheEvict()', options) as never;
  };
}
