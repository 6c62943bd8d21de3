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
    ['a negative stale window', () => Cached({ ttl: 5, staleWhileRevalidate: -1 }), /Incidents\.list @Cached\(\): option "staleWhileRevalidate" must be a number of milliseconds, 0 \(off\) or more/],
    ['an endless stale window', () => Cached({ ttl: 5, staleIfError: Infinity }), /option "staleIfError" must be a number of milliseconds/],
    ['refreshAhead of 1 (never before expiry)', () => Cached({ ttl: 5, refreshAhead: 1 }), /option "refreshAhead" must be a number between 0 and 1 \(exclusive\)/],
    ['refreshAhead of 0', () => Cached({ ttl: 5, refreshAhead: 0 }), /option "refreshAhead"/],
    ['jitter of 1 (a ttl of 0)', () => Cached({ ttl: 5, jitter: 1 }), /option "jitter" must be a number in \[0, 1\)/],
    ['a soft timeout of 0', () => SingleFlight({ softTimeout: 0 }), /Incidents\.list @SingleFlight\(\): option "softTimeout" must be a positive number/],
    ['a refresh backoff of 0', () => Cached({ ttl: 5, refreshBackoff: 0 }), /option "refreshBackoff"/],
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

  it.each([
    ['a stale window with no ttl the library knows', { staleWhileRevalidate: 1_000 }, {}, {}, /Incidents\.list: staleWhileRevalidate needs a ttl the library knows/],
    ['refreshAhead and jitter with no ttl', { refreshAhead: 0.8, jitter: 0.1 }, {}, {}, /Incidents\.list: refreshAhead, jitter need a ttl the library knows/],
    ['a module default stale window, a method with no ttl', {}, {}, { staleIfError: 60_000 }, /Incidents\.list: staleIfError needs a ttl/],
    ['a soft timeout with no staleIfError window', { ttl: 1_000 }, { softTimeout: 100 }, {}, /Incidents\.list: softTimeout needs a staleIfError window longer than staleWhileRevalidate/],
    ['a soft timeout where staleWhileRevalidate covers staleIfError', { ttl: 1_000, staleWhileRevalidate: 5_000, softTimeout: 100 }, {}, { staleIfError: 5_000 }, /softTimeout needs a staleIfError window longer/],
    ['a staleIfError window that ends inside staleWhileRevalidate', { ttl: 1_000, staleWhileRevalidate: 5_000, staleIfError: 2_000 }, {}, {}, /Incidents\.list: staleIfError 2000 ms adds nothing: .*staleWhileRevalidate \(5000 ms\)/],
    ['a soft timeout not shorter than the hard timeout', { ttl: 1_000, staleIfError: 5_000 }, { softTimeout: 2_000, hardTimeout: 2_000 }, {}, /Incidents\.list: softTimeout 2000 ms is not shorter than the hard timeout \(2000 ms\)/],
  ])('%s fails at application start', async (_, cached, singleFlight, options, message) => {
    @Injectable()
    class Incidents {
      @Cached(cached)
      @SingleFlight(singleFlight)
      async list() { return []; }
    }
    await expect(createTestApp([Incidents], { options })).rejects.toThrow(message);
  });

  it('a module staleIfError shorter than a method\'s own staleWhileRevalidate starts (the method did not ask for it); the same mistake in forRoot alone fails, naming forRoot', async () => {
    @Injectable()
    class Incidents {
      @Cached({ ttl: 1_000, staleWhileRevalidate: 120_000 })
      @SingleFlight()
      async list() { return []; }
    }
    const app = await createTestApp([Incidents], { options: { staleIfError: 60_000 } });
    await app.close();
    await expect(createTestApp([], { options: { ttl: 1_000, staleWhileRevalidate: 5_000, staleIfError: 2_000 } })).rejects.toThrow(
      /SingleFlightModule\.forRoot\(\): staleIfError 2000 ms adds nothing/,
    );
  });

  it.each(['staleWhileRevalidate', 'staleIfError', 'ttl', 'tags'])('@SingleFlight({ %s }) fails at decoration, pointing to @Cached', (name) => {
    expect(() => {
      class Incidents {
        @SingleFlight({ [name]: 1_000 } as never)
        async list() { return []; }
      }
      return Incidents;
    }).toThrow(new RegExp(`Incidents\\.list @SingleFlight\\(\\): "${name}" is an option of @Cached\\(\\)`));
  });

  it('a soft timeout on @SingleFlight without @Cached fails at application start', async () => {
    @Injectable()
    class Incidents {
      @SingleFlight({ softTimeout: 100 })
      async list() { return []; }
    }
    await expect(createTestApp([Incidents])).rejects.toThrow(/Incidents\.list: @SingleFlight\(\{ softTimeout \}\) needs @Cached\(\{ staleIfError \}\)/);
  });

  it('@Cached and @SingleFlight giving different soft timeouts', () => {
    expect(() => {
      class Incidents {
        @Cached({ ttl: 5, staleIfError: 5, softTimeout: 1 })
        @SingleFlight({ softTimeout: 2 })
        async list() {}
      }
      return Incidents;
    }).toThrow(/Incidents\.list: @Cached and @SingleFlight give different softTimeouts/);
  });

  it('a module default soft timeout applies only where a method has a staleIfError window: no error elsewhere', async () => {
    @Injectable()
    class Incidents {
      @Cached()
      @SingleFlight()
      async list() { return []; }
    }
    const app = await createTestApp([Incidents], { options: { ttl: 1_000, softTimeout: 100 } });
    await app.close();
  });

  it('bad module freshness options fail at application start', async () => {
    await expect(createTestApp([], { options: { jitter: 1.5 } })).rejects.toThrow(/SingleFlightModule\.forRoot\(\): option "jitter" must be a number in \[0, 1\)/);
    await expect(createTestApp([], { options: { staleIfError: '60000' as never } })).rejects.toThrow(/option "staleIfError" must be a number of milliseconds, 0 \(off\) or more, got "60000" \(a string: convert it with Number\(\)\)/);
    await expect(createTestApp([], { options: { softTimeout: 30_000 } })).rejects.toThrow(/SingleFlightModule\.forRoot\(\): softTimeout 30000 ms is not shorter than hardTimeout \(30000 ms\)/);
  });
});

describe('forRoot() with no options', () => {
  it('is the module with its defaults', async () => {
    const { CacheModule } = await import('@nestjs/cache-manager');
    const { Test } = await import('@nestjs/testing');
    const { SingleFlightModule } = await import('@app/single-flight');
    @Injectable()
    class Incidents {
      @Cached({ ttl: 1_000 })
      async list() { return [1]; }
    }
    const app = await Test.createTestingModule({ imports: [CacheModule.register({ isGlobal: true }), SingleFlightModule.forRoot()], providers: [Incidents] }).compile();
    await app.init();
    expect(await app.get(Incidents).list()).toEqual([1]);
    await app.close();
  });
});
