import { SingleFlightConfigError } from '../errors.js';
import { CACHE_EVICT_METADATA } from '../single-flight.constants.js';
import type { CacheEvictOptions } from '../interfaces/cache-evict-options.interface.js';
import type { EvictingMethod, TypedMethodDecorator } from '../interfaces/method-types.interface.js';
import { validateOptions } from '../validate-options.js';
import { describeMethod } from './method-metadata.js';
import { decorateMethod } from './method-trampoline.js';

/**
 * After the method resolves, invalidates every entry cached with one of `tags`, in every process
 * sharing the store. The call resolves only once the invalidation is written, and a load that
 * began before it can never be served afterwards. Tag functions receive `(result, ...args)`; an
 * annotated one is checked against the method's result and parameters.
 *
 * @example
 * @CacheEvict({ tags: ['incidents', (incident: IncidentEvent) => `incident:${incident.id}`] })
 * update(id: string, dto: UpdateIncidentDto): Promise<IncidentEvent> { ... }
 */
export function CacheEvict<R = any, A extends unknown[] = any[], This = any>(options: CacheEvictOptions<R, A, This>): TypedMethodDecorator<EvictingMethod<R, A>, This> {
  return ((target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor) => {
    const where = `${describeMethod(target, propertyKey)} @CacheEvict()`;
    validateOptions(where, options, { tags: 'tags' });
    if (!options?.tags || (Array.isArray(options.tags) && options.tags.length === 0)) {
      throw new SingleFlightConfigError(`${where}: option "tags" is required (the tags to invalidate)`);
    }
    return decorateMethod(target, propertyKey, descriptor, CACHE_EVICT_METADATA, '@CacheEvict()', options);
  }) as never;
}
