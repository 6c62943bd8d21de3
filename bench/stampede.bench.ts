// A burst of N concurrent calls on a cold key: how many loads (database queries) and cache
// round trips does it cost? Decorators vs a hand-written get/query/set vs cache-manager's wrap.
// npm run bench:stampede
import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Inject, Injectable } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cached, SingleFlight } from '@app/single-flight';
import { benchApp, dropNamespace, incidentPage, redisKeyv, redisReachable } from './support.js';

const QUERY_MS = 5; // a simulated database query
let loads = 0;
async function query() {
  loads++;
  await sleep(QUERY_MS);
  return incidentPage();
}

@Injectable()
class Reads {
  constructor(@Inject(CACHE_MANAGER) private readonly cache: Cache) {}

  async handWritten(key: string) {
    const hit = await this.cache.get(key);
    if (hit !== undefined) return hit;
    const value = await query();
    await this.cache.set(key, value);
    return value;
  }

  wrap(key: string) {
    return this.cache.wrap(key, query);
  }

  @Cached()
  @SingleFlight()
  decorated(key: string) {
    return query();
  }

  @Cached({ freeze: true })
  @SingleFlight()
  frozen(key: string) {
    return query();
  }
}

/** Counts round trips at the Keyv store, below cache-manager, so every path is counted alike. */
function countStoreCalls(cache: Cache) {
  const counts = { reads: 0, writes: 0 };
  for (const store of cache.stores) {
    const target = store as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const [method, kind] of [['get', 'reads'], ['getMany', 'reads'], ['set', 'writes'], ['setMany', 'writes']] as const) {
      const original = target[method].bind(store);
      target[method] = (...args) => (counts[kind]++, original(...args));
    }
  }
  return counts;
}

async function measure(label: string, stores?: ReturnType<typeof redisKeyv>[]) {
  const app = await benchApp([Reads], stores, { ttl: 60_000 });
  const reads = app.get(Reads);
  const counts = countStoreCalls(app.get<Cache>(CACHE_MANAGER));
  const rows: Record<string, string | number>[] = [];
  for (const burst of [10, 100, 1_000, 10_000]) {
    for (const strategy of ['handWritten', 'wrap', 'decorated', 'frozen'] as const) {
      const key = `stampede:${randomUUID()}`; // cold
      loads = counts.reads = counts.writes = 0;
      const started = performance.now();
      await Promise.all(Array.from({ length: burst }, () => reads[strategy](key)));
      rows.push({
        burst,
        strategy: { handWritten: 'hand-written get/query/set', wrap: "cache-manager's wrap", decorated: '@Cached + @SingleFlight', frozen: '… with freeze: true' }[strategy],
        'loads (queries)': loads,
        'cache reads': counts.reads,
        'cache writes': counts.writes,
        'burst ms': Math.round(performance.now() - started),
      });
    }
  }
  console.log(`\nBursts on a cold key, ${label}; each load is a ${QUERY_MS} ms query`);
  console.table(rows);
  await app.close();
}

await measure('memory store');
if (await redisReachable()) {
  const namespace = `sf-bench-${randomUUID()}`;
  await measure('Redis on 127.0.0.1', [redisKeyv(namespace)]);
  await dropNamespace(namespace);
} else {
  console.log('\nRedis not reachable at REDIS_URL: Redis rows skipped');
}
