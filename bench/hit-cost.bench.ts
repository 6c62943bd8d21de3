// What does a cache hit cost through the decorators, next to a hand-written cache.get and
// cache-manager's wrap? Memory store and real Redis, in one run, as ratios. On Redis, also the
// local tier (`forRoot({ local })`, copy and freeze), next to one clonePlainData copy of the page.
// npm run bench:hit
import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Inject, Injectable } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { randomUUID } from 'node:crypto';
import * as devalue from 'devalue';
import { setTimeout as sleep } from 'node:timers/promises';
import { Bench } from 'tinybench';
import { Cached, SingleFlight } from '@app/single-flight';
import { CachedExecutor } from '../libs/single-flight/src/cached-executor.js';
import { REDIS_URL } from '../libs/single-flight/test/support/redis-cache.js';
import { clonePlainData } from '../libs/single-flight/src/value-codec.js';
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

/** `local`: add the local tier's rows (bus on the Redis at REDIS_URL, under a key prefix of this run's own). */
async function measure(label: string, stores?: ReturnType<typeof redisKeyv>[], local = false) {
  const app = await benchApp([Reads], stores, { ttl: 600_000 });
  const reads = app.get(Reads);
  for (const method of ['handWritten', 'handWrittenTyped', 'wrap', 'decorated', 'frozen'] as const) await reads[method](1); // prime
  // The same reads with signed entries (`secret`): the HMAC check is the difference.
  const signedApp = await benchApp([Reads], stores, { ttl: 600_000, secret: 'a bench secret of 32 characters!' });
  const signed = signedApp.get(Reads);
  await signed.decorated(2);
  await signed.frozen(2);
  // The local tier trusts what it keeps only while its bus is subscribed.
  const localApp = local ? await benchApp([Reads], stores, { ttl: 600_000, redis: REDIS_URL, keyPrefix: `sf-hit-${randomUUID().slice(0, 8)}:`, local: { max: 1_000 } }) : undefined;
  const localReads = localApp?.get(Reads);
  if (localApp) {
    for (let waited = 0; !localApp.get(CachedExecutor).fleet?.bus.connected; waited += 20) {
      if (waited > 10_000) throw new Error('local tier: bus not subscribed after 10 s');
      await sleep(20);
    }
    await localReads!.decorated(3);
    await localReads!.frozen(3);
  }
  const decodedPage = await reads.decorated(1); // a decoded page, as a copy-mode hit clones it
  const bench = new Bench({ time: 600, warmupTime: 150 });
  bench
    .add('hand-written cache.get', () => reads.handWritten(1))
    .add("cache-manager's wrap", () => reads.wrap(1))
    .add('hand-written cache.get + devalue.parse (a typed copy)', () => reads.handWrittenTyped(1))
    .add('@Cached + @SingleFlight', () => reads.decorated(1))
    .add('@Cached({ freeze: true }) + @SingleFlight', () => reads.frozen(1))
    .add('@Cached + @SingleFlight, signed entries (secret)', () => signed.decorated(2))
    .add('@Cached({ freeze: true }) + @SingleFlight, signed entries', () => signed.frozen(2));
  if (localReads) {
    bench
      .add('local tier hit (forRoot({ local: { max: 1000 } })), copy mode', () => localReads.decorated(3))
      .add('local tier hit, @Cached({ freeze: true })', () => localReads.frozen(3))
      .add('clonePlainData of the page (one copy: what a copy-mode hit cannot avoid)', () => clonePlainData(decodedPage));
  }
  await bench.run();
  console.log(`\nA cache hit of a 20-row page, ${label}; baseline: hand-written cache.get`);
  console.table(costTable(bench));
  if (localReads) {
    const mean = (name: string) => (bench.getTask(name)!.result as { latency: { mean: number } }).latency.mean;
    const redisGet = mean('hand-written cache.get');
    const clone = mean('clonePlainData of the page (one copy: what a copy-mode hit cannot avoid)');
    const copyHit = mean('local tier hit (forRoot({ local: { max: 1000 } })), copy mode');
    const freezeHit = mean('local tier hit, @Cached({ freeze: true })');
    console.table([
      { ratio: 'local freeze hit vs plain Redis get (target >= 20x faster)', value: `${(redisGet / freezeHit).toFixed(1)}x faster` },
      { ratio: 'local copy hit vs plain Redis get', value: `${(redisGet / copyHit).toFixed(1)}x faster` },
      { ratio: 'local copy hit vs one clonePlainData copy', value: `${(copyHit / clone).toFixed(2)}x the cost` },
    ]);
  }
  await Promise.all([app.close(), signedApp.close(), localApp?.close()]);
}

await measure('memory store (hand-written and wrap hand back the cached object itself: no copy, shared mutations)');
if (await redisReachable()) {
  const namespace = `sf-bench-${randomUUID()}`;
  await measure('Redis on 127.0.0.1 (hand-written and wrap get Dates back as strings)', [redisKeyv(namespace)], true);
  await dropNamespace(namespace);
} else {
  console.log('\nRedis not reachable at REDIS_URL: Redis rows skipped');
}
