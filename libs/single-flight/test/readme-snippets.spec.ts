import { CACHE_MANAGER, CacheModule } from '@nestjs/cache-manager';
import type { Cache } from 'cache-manager';
import { Controller, Get, Injectable, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { KeyvAdapter, type CacheManagerStore } from 'cache-manager';
import { redisInsStore } from 'cache-manager-ioredis-yet';
import { Redis } from 'ioredis';
import { Keyv } from 'keyv';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { Cached, SingleFlight, SingleFlightModule, SingleFlightStats } from '@app/single-flight';

// The README's "Use it in your app" snippets, as a new app pastes them.

@Injectable()
class Greetings {
  @Cached()
  async hello(name: string) {
    return `hello ${name}`;
  }
}

describe('README snippets', () => {
  it('the Redis store connects to REDIS_URL (ioredis ignores a url option), and app.close() closes it', async () => {
    const namespace = `readme-${randomUUID()}`;
    const previous = process.env.REDIS_URL;
    process.env.REDIS_URL = 'redis://127.0.0.1:6379/5'; // database 5: not where a default client would write
    try {
      @Module({
        imports: [
          CacheModule.registerAsync({
            isGlobal: true,
            useFactory: () => {
              // ioredis ignores a `url` option: give it the URL itself.
              const client = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
              const store = redisInsStore(client);
              // This store has no disconnect(): without one, app.close() leaves the connection open.
              Object.assign(store, { disconnect: () => client.quit() });
              return { stores: [new Keyv({ store: new KeyvAdapter(store as unknown as CacheManagerStore), namespace })] };
            },
          }),
          SingleFlightModule.forRoot({ ttl: 60_000 }),
        ],
        providers: [Greetings],
      })
      class AppModule {}
      const app = await Test.createTestingModule({ imports: [AppModule] }).compile();
      await app.init();
      await app.get(Greetings).hello('ada');
      await app.close();
      const db5 = new Redis('redis://127.0.0.1:6379/5');
      try {
        const keys = await db5.keys(`${namespace}:*`);
        expect(keys).toContain(`${namespace}:sf:Greetings.hello:["ada"]`);
        await db5.del(keys);
      } finally {
        await db5.quit();
      }
    } finally {
      // (Assigning undefined would store the string 'undefined'.)
      if (previous === undefined) delete process.env.REDIS_URL;
      else process.env.REDIS_URL = previous;
    }
  });

  it('forRootAsync takes its options from ConfigService, whose values are strings', async () => {
    const app = await Test.createTestingModule({
      imports: [
        ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ CACHE_TTL_MS: '60000' })] }),
        CacheModule.register({ isGlobal: true }),
        SingleFlightModule.forRootAsync({
          imports: [ConfigModule],
          inject: [ConfigService],
          useFactory: (config: ConfigService) => ({
            ttl: Number(config.get('CACHE_TTL_MS', 60_000)),
            keyPrefix: config.get('CACHE_KEY_PREFIX', 'sf:'),
          }),
        }),
      ],
      providers: [Greetings],
    }).compile();
    await app.init();
    await expect(app.get(Greetings).hello('ada')).resolves.toBe('hello ada');
    await app.close();
  });

  it('signed entries: the secret from ConfigService (Faults and hostile input); entries are written signed', async () => {
    const app = await Test.createTestingModule({
      imports: [
        ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ CACHE_SECRET: 'k6Vd9q2h1mZrX0bYc3fWnA8sJ5tLpE7u' })] }),
        CacheModule.register({ isGlobal: true }),
        SingleFlightModule.forRootAsync({
          imports: [ConfigModule],
          inject: [ConfigService],
          useFactory: (config: ConfigService) => ({
            ttl: 60_000,
            // 32 random bytes: openssl rand -base64 32. While rotating: [newSecret, oldSecret].
            secret: config.getOrThrow<string>('CACHE_SECRET'),
          }),
        }),
      ],
      providers: [Greetings],
    }).compile();
    await app.init();
    await expect(app.get(Greetings).hello('ada')).resolves.toBe('hello ada');
    await expect(app.get<Cache>(CACHE_MANAGER).get('sf:Greetings.hello:["ada"]')).resolves.toMatch(/^sf2s\|/);
    await app.close();
  });

  it('a bad option from forRootAsync names forRootAsync, and says a number string needs Number()', async () => {
    const start = Test.createTestingModule({
      imports: [
        CacheModule.register({ isGlobal: true }),
        SingleFlightModule.forRootAsync({ useFactory: () => ({ ttl: '60000' as unknown as number }) }),
      ],
    }).compile();
    await expect(start).rejects.toThrow(/SingleFlightModule\.forRootAsync\(\): option "ttl" must be a positive number of milliseconds, got "60000" \(a string: convert it with Number\(\)\)/);
  });
});

describe('README snippets: Fleets', () => {
  it('one ioredis client for the store and the module: local hits, the bus connected, every connection closed with the app', async () => {
    const { CacheModule: Cache2 } = await import('@nestjs/cache-manager');
    const { Module: Module2 } = await import('@nestjs/common');
    const { CachedExecutor } = await import('../src/cached-executor.js');
    const { until } = await import('./support/latch.js');
    const namespace = `readme-fleet-${randomUUID()}`;
    const keyPrefix = `${namespace}-sf:`;
    // As pasted, with a namespace and prefix of the test's own.
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    @Module2({
      imports: [
        Cache2.register({ isGlobal: true, stores: [new Keyv({ store: new KeyvAdapter(redisInsStore(redis) as unknown as CacheManagerStore), namespace })] }),
        SingleFlightModule.forRoot({ ttl: 60_000, keyPrefix, redis, local: { max: 10_000 }, distributed: true }),
      ],
      providers: [Greetings],
    })
    class AppModule {
      async onApplicationShutdown() {
        await redis.quit();
      }
    }
    const app = await Test.createTestingModule({ imports: [AppModule] }).compile();
    await app.init();
    const executor = app.get(CachedExecutor);
    await until(() => executor.fleet!.bus.connected);
    expect(await app.get(Greetings).hello('ada')).toBe('hello ada');
    expect(executor.local!.size).toBe(1);
    const subscriber = executor.fleet!.link.subscriber;
    const cleanup = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    try {
      await cleanup.del(`${namespace}:${keyPrefix}Greetings.hello:["ada"]`);
    } finally {
      await cleanup.quit();
    }
    await app.close();
    // QUIT was answered; the socket closes right after.
    await until(() => redis.status === 'end' && subscriber.status === 'end', 2_000);
  });
});

describe('README snippets: Freshness', () => {
  interface ListIncidentsQuery {
    namespace?: string;
  }
  interface Page<T> {
    items: T[];
    total: number;
  }
  type IncidentEvent = { id: string };

  @Injectable()
  class IncidentsService {
    @Cached({
      ttl: 30_000,
      tags: ['incidents'],
      staleWhileRevalidate: 30_000, // 30 s past the ttl: the stale value at once, one refresh beside it
      staleIfError: 600_000, // 10 min past the ttl: the stale value instead of the load's error
      refreshAhead: 0.8, // a hit after 80% of the ttl refreshes the value before it expires
      jitter: 0.1, // each write's ttl cut by up to 10%, so keys written together do not expire together
    })
    @SingleFlight({ softTimeout: 200 }) // with a stale value, answer after 200 ms even if the load goes on
    async list(query: ListIncidentsQuery): Promise<Page<IncidentEvent>> {
      return { items: [{ id: query.namespace ?? 'all' }], total: 1 };
    }
  }

  it('the decorators as shown start, cache, and record the entry\'s times', async () => {
    @Module({ imports: [CacheModule.register({ isGlobal: true }), SingleFlightModule.forRoot()], providers: [IncidentsService] })
    class AppModule {}
    const app = await Test.createTestingModule({ imports: [AppModule] }).compile();
    await app.init();
    try {
      expect(await app.get(IncidentsService).list({ namespace: 'payments' })).toEqual({ items: [{ id: 'payments' }], total: 1 });
      const entry = await app.get<Cache>(CACHE_MANAGER).get<string>('sf:IncidentsService.list:[{"namespace":"payments"}]');
      const [, writtenAt, staleAt] = /^sf3\|(\d+)\|(\d+)\|/.exec(entry!)!;
      expect(Number(staleAt) - Number(writtenAt)).toBeGreaterThanOrEqual(27_000); // the ttl, cut by up to 10%
      expect(Number(staleAt) - Number(writtenAt)).toBeLessThanOrEqual(30_000);
    } finally {
      await app.close();
    }
  });
});

describe('README snippets: Observability', () => {
  @Injectable()
  class IncidentsService {
    @Cached({ ttl: 30_000 })
    @SingleFlight()
    async list(namespace: string) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { items: [namespace], total: 1 };
    }
  }

  @Controller('cache-stats')
  class CacheStatsController {
    constructor(private readonly stats: SingleFlightStats) {}

    @Get()
    show() {
      const { loads, joined, hits, misses } = this.stats.method('IncidentsService.list');
      return { loads, joined, hits, misses, all: this.stats.snapshot() };
    }
  }

  it('the health-page controller reads SingleFlightStats with no SDK: 10 concurrent calls, 1 load, 9 joined', async () => {
    @Module({ imports: [CacheModule.register({ isGlobal: true }), SingleFlightModule.forRoot()], providers: [IncidentsService], controllers: [CacheStatsController] })
    class AppModule {}
    const app = (await Test.createTestingModule({ imports: [AppModule] }).compile()).createNestApplication();
    await app.init();
    try {
      await Promise.all(Array.from({ length: 10 }, () => app.get(IncidentsService).list('payments')));
      await app.get(IncidentsService).list('payments');
      const { body } = await request(app.getHttpServer()).get('/cache-stats').expect(200);
      expect(body).toMatchObject({ loads: 1, joined: 9, misses: 1, hits: { shared: 1, local: 0 } });
      expect(body.all.methods['IncidentsService.list'].flights).toBe(2);
    } finally {
      await app.close();
    }
  });
});
