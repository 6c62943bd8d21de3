import { Injectable } from '@nestjs/common';
import { CacheEvict, Cached, SingleFlight, SingleFlightConfigError } from '@app/single-flight';
import { createTestApp } from './support/test-app.js';

const define = (decorate: () => void) => () => decorate();

describe('misconfiguration fails early, naming the class and the method', () => {
  it.each([
    ['an unknown option', () => Cached({ tll: 5 } as never), /Incidents\.list @Cached\(\): unknown option "tll"/],
    ['a ttl that is not a positive number', () => Cached({ ttl: 0 }), /Incidents\.list @Cached\(\): option "ttl" must be a positive number/],
    ['a string ttl', () => Cached({ ttl: '5s' as never }), /option "ttl" must be a positive number/],
    ['a negative timeout', () => SingleFlight({ timeout: -1 }), /Incidents\.list @SingleFlight\(\): option "timeout"/],
    ['a hardTimeout of Infinity', () => SingleFlight({ hardTimeout: Infinity }), /option "hardTimeout"/],
    ['@CacheEvict without tags', () => CacheEvict({} as never), /Incidents\.list @CacheEvict\(\): option "tags" is required/],
    ['@CacheEvict with no tags', () => CacheEvict({ tags: [] }), /option "tags" is required/],
    ['tags that are not strings', () => Cached({ tags: [1] as never }), /option "tags" must be an array of non-empty strings/],
    ['a namespace that could forge a key', () => Cached({ namespace: 'a:b' }), /option "namespace"/],
  ])('%s', (_, decorator, message) => {
    expect(
      define(() => {
        class Incidents {
          @(decorator() as MethodDecorator)
          async list() {}
        }
        return Incidents;
      }),
    ).toThrow(message);
  });

  it('@CacheEvict combined with @Cached', () => {
    expect(() => {
      class Incidents {
        @CacheEvict({ tags: ['x'] })
        @Cached()
        async list() {}
      }
      return Incidents;
    }).toThrow(/Incidents\.list: @CacheEvict cannot be combined/);
  });

  it('two different key functions for one method', () => {
    expect(() => {
      class Incidents {
        @Cached({ key: (a: number) => a })
        @SingleFlight({ key: (a: number) => -a })
        async list(a: number) { return a; }
      }
      return Incidents;
    }).toThrow(/Incidents\.list: @Cached and @SingleFlight both give a `key`/);
  });

  it('a static method', () => {
    expect(() => {
      class Incidents {
        @Cached()
        static async list() {}
      }
      return Incidents;
    }).toThrow(/Incidents\.list: @Cached\(\) goes on instance methods/);
  });

  it('the errors are SingleFlightConfigErrors', () => {
    expect(() => Cached({ ttl: -1 })({}, 'x', { value: async () => 1 })).toThrow(SingleFlightConfigError);
  });

  it('@Cached with no CACHE_MANAGER fails at application start', async () => {
    @Injectable()
    class Incidents {
      @Cached()
      async list() { return []; }
    }
    await expect(createTestApp([Incidents], { cache: false })).rejects.toThrow(/Incidents\.list: @Cached\(\) needs a cache, but no CACHE_MANAGER is provided/);
  });

  it('bad module options fail at application start', async () => {
    await expect(createTestApp([], { options: { ttl: -5 } })).rejects.toThrow(/SingleFlightModule\.forRoot\(\): option "ttl" must be a positive number/);
    await expect(createTestApp([], { options: { tll: 5 } as never })).rejects.toThrow(/unknown option "tll"/);
    await expect(createTestApp([], { options: { circuitBreaker: { failureThreshold: 0 } } })).rejects.toThrow(/circuitBreaker: option "failureThreshold"/);
  });
});
