// What does a cache hit cost through the decorators, next to a hand-written cache.get and
// cache-manager's wrap? Memory store and real Redis, in one run, as ratios.
// npm run bench:hit
import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Inject, Injectable } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { randomUUID } from 'node:crypto';
import * as devalue from 'devalue';
import { Bench } from 'tinybench';
import { Cached, SingleFlight } from '@app/single-flight';
import { benchApp, costTable, dropNamespace, incidentPage, redisKeyv, redisReachable } from './support.js';

const page = incidentPage();

@Injectable()
class Reads {
  constructor(@Inject(CACHE_MANAGER) private readonly cache: Cache) {}

  async handWritten(id: number) {
    const key = `hand:${id}`;
    const hit = await this.cache.get(key);
    if (hit !== undefined) return hit;
    await this.cache.set(key, page);
    return page;
  }

  /** What a hand-written hit costs when it, too, hands back a typed copy. */
  async handWrittenTyped(id: number) {
    const key = `typed:${id}`;
    const hit = await this.cache.get<string>(key);
    if (hit !== undefined) return devalue.parse(hit);
    await this.cache.set(key, devalue.stringify(page));
    return page;
  }

  wrap(id: number) {
    return this.cache.wrap(`wrap:${id}`, async () => page);
  }

  @Cached()
  @SingleFlight()
  async decorated(id: number) {
    return page;
  }

  @Cached({ freeze: true })
  @SingleFlight()
  async frozen(id: number) {
    return page;
  }
}

async function measure(label: string, stores?: ReturnType<typeof redisKeyv>[]) {
  const app = await benchApp([Reads], stores, { ttl: 600_000 });
  const reads = app.get(Reads);
  for (const method of ['handWritten', 'handWrittenTyped', 'wrap', 'decorated', 'frozen'] as const) await reads[method](1); // prime
  // The same reads with signed entries (`secret`): the HMAC check is the difference.
  const signedApp = await benchApp([Reads], stores, { ttl: 600_000, secret: 'a bench secret of 32 characters!' });
  const signed = signedApp.get(Reads);
  await signed.decorated(2);
  await signed.frozen(2);
  const bench = new Bench({ time: 600, warmupTime: 150 });
  bench
    .add('hand-written cache.get', () => reads.handWritten(1))
    .add("cache-manager's wrap", () => reads.wrap(1))
    .add('hand-written cache.get + devalue.parse (a typed copy)', () => reads.handWrittenTyped(1))
    .add('@Cached + @SingleFlight', () => reads.decorated(1))
    .add('@Cached({ freeze: true }) + @SingleFlight', () => reads.frozen(1))
    .add('@Cached + @SingleFlight, signed entries (secret)', () => signed.decorated(2))
    .add('@Cached({ freeze: true }) + @SingleFlight, signed entries', () => signed.frozen(2));
  await bench.run();
  console.log(`\nA cache hit of a 20-row page, ${label}; baseline: hand-written cache.get`);
  console.table(costTable(bench));
  await Promise.all([app.close(), signedApp.close()]);
}

await measure('memory store (hand-written and wrap hand back the cached object itself: no copy, shared mutations)');
if (await redisReachable()) {
  const namespace = `sf-bench-${randomUUID()}`;
  await measure('Redis on 127.0.0.1 (hand-written and wrap get Dates back as strings)', [redisKeyv(namespace)]);
  await dropNamespace(namespace);
} else {
  console.log('\nRedis not reachable at REDIS_URL: Redis rows skipped');
}
