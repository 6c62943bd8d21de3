// npm run bench:expiry: what a caller pays when a hot key expires, with and without the freshness
// options. One steady stream of calls per method (a call every 5 ms for 3 s, one at a time), a 20 ms
// "query", a 200 ms ttl: each stream crosses 15 expiries. Real Redis if reachable, else the memory store.
import { Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { Cached, SingleFlight } from '@app/single-flight';
import { benchApp, dropNamespace, incidentPage, redisKeyv, redisReachable } from './support.js';
import { percentile } from './percentile.js';

const TTL = 200;
const LOAD_MS = 20;
const STREAM_MS = 3_000;
const GAP_MS = 5;

let loads = 0;
async function query() {
  loads++;
  await sleep(LOAD_MS);
  return incidentPage();
}

@Injectable()
class Pages {
  @Cached({ ttl: TTL })
  @SingleFlight()
  plain() {
    return query();
  }

  @Cached({ ttl: TTL, staleWhileRevalidate: 60_000 })
  @SingleFlight()
  revalidated() {
    return query();
  }

  @Cached({ ttl: TTL, refreshAhead: 0.5 })
  @SingleFlight()
  ahead() {
    return query();
  }
}


const useRedis = await redisReachable();
const namespace = `bench-expiry-${randomUUID()}`;
const app = await benchApp([Pages], useRedis ? [redisKeyv(namespace)] : undefined);
const pages = app.get(Pages);
const rows = [];
try {
  for (const [label, call] of [
    ['ttl only', () => pages.plain()],
    ['staleWhileRevalidate', () => pages.revalidated()],
    ['refreshAhead: 0.5', () => pages.ahead()],
  ] as const) {
    await call(); // the first load, not counted
    loads = 0;
    const latencies: number[] = [];
    const until = performance.now() + STREAM_MS;
    for (let i = 0; i < 10_000 && performance.now() < until; i++) {
      const started = performance.now();
      await call();
      latencies.push(performance.now() - started);
      await sleep(GAP_MS);
    }
    latencies.sort((a, b) => a - b);
    rows.push({
      options: label,
      calls: latencies.length,
      loads,
      'calls slower than the query': latencies.filter((ms) => ms >= LOAD_MS).length,
      'p50 ms': latencies[Math.floor(latencies.length / 2)].toFixed(2),
      'p99 ms': percentile(latencies, 99).toFixed(2),
      'max ms': latencies.at(-1)!.toFixed(2),
    });
  }
} finally {
  await app.close();
  if (useRedis) await dropNamespace(namespace);
}
console.log(`\nA steady stream of calls across ${STREAM_MS / TTL} expiries (${useRedis ? 'Redis on 127.0.0.1' : 'memory store'}; ttl ${TTL} ms, query ${LOAD_MS} ms, a call every ${GAP_MS} ms)`);
console.table(rows);
