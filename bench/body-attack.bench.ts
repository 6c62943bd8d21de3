// What deeply nested JSON bodies cost the other requests: the p50/p95 of a cached GET alone, then
// while 4 clients send 90 KB bodies nested 45,000 deep. The app runs on a test database of its
// own on the real PostgreSQL (TEST_POSTGRES_URL, as the e2e tests; dropped afterwards) and on
// Redis under a key prefix of its own (removed afterwards), or on the in-memory cache without Redis.
//   node --import @swc-node/register/esm-register bench/body-attack.bench.ts
//   BODY_GUARD=off node --import @swc-node/register/esm-register bench/body-attack.bench.ts   (limits as before the guard: to compare)
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { createApp } from '../apps/incidents/src/bootstrap.js';
import { clearAppCache } from '../apps/incidents/src/cache/clear-app-cache.js';
import { seedIncidents } from '../apps/incidents/src/database/seed-incidents.js';
import { REDIS_URL } from '../libs/single-flight/test/support/redis-cache.js';
import { createTestDatabase } from '../test/support/e2e-app.js';
import { redisReachable } from './support.js';
import { percentile } from './percentile.js';

const ATTACKERS = 4;
const DEPTH = 45_000; // '[' x 45,000 then ']' x 45,000: 90 KB
const GETS = 400; // per phase, one at a time
const PHASE_MS = 10_000; // each phase ends by then, whatever is left
const PATH = '/incidents?namespace=payments&limit=20';

// Read by this bench only: the app's own limits, or Express's default 100 KB and no depth limit (as before).
const guarded = process.env.BODY_GUARD !== 'off';
const attackBody = '['.repeat(DEPTH) + ']'.repeat(DEPTH);


function send(port: number, agent: http.Agent, method: string, path: string, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.setTimeout(PHASE_MS + 5_000, () => req.destroy(new Error('no answer')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Sequential cached GETs, GETS of them or until `deadline`: their latencies (ms), sorted. */
async function measureGets(port: number, deadline: number): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const latencies: number[] = [];
  try {
    while (latencies.length < GETS && performance.now() < deadline) {
      const started = performance.now();
      const status = await send(port, agent, 'GET', PATH);
      if (status !== 200) throw new Error(`GET ${PATH}: ${status}`);
      latencies.push(performance.now() - started);
    }
  } finally {
    agent.destroy();
  }
  return latencies.sort((a, b) => a - b);
}

const database = await createTestDatabase();
const redis = (await redisReachable()) ? REDIS_URL : undefined;
const keyPrefix = `bench-body-attack-${randomUUID()}:`;
const app = await createApp(
  { databaseUrl: database.url, redisUrl: redis, port: 0, singleFlight: true, cacheKeyPrefix: keyPrefix },
  false,
  guarded ? {} : { jsonBody: { limit: 100 * 1024, maxDepth: Infinity } },
);
try {
  await app.init();
  await seedIncidents(app.get(DataSource), 2_000);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  await measureGets(port, performance.now() + 2_000); // warm: the entry is cached, the JIT is warm

  const alone = await measureGets(port, performance.now() + PHASE_MS);

  const statuses = new Map<number | string, number>();
  let stop = false;
  const deadline = performance.now() + PHASE_MS;
  const attackStarted = performance.now();
  const attackers = Array.from({ length: ATTACKERS }, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      // Bounded by the measurement (stop), by time and by count.
      for (let sent = 0; !stop && performance.now() < deadline && sent < 2_000; sent++) {
        const status = await send(port, agent, 'POST', '/incidents', attackBody).catch((error: Error) => error.message);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    } finally {
      agent.destroy();
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 200)); // the attack is under way
  const attacked = await measureGets(port, deadline);
  stop = true;
  await Promise.all(attackers);
  const attackSeconds = (performance.now() - attackStarted) / 1000;
  const bodies = [...statuses.values()].reduce((a, b) => a + b, 0);

  const row = (label: string, sorted: number[]) => ({
    'cached GET': label,
    requests: sorted.length,
    'p50 ms': percentile(sorted, 50).toFixed(1),
    'p95 ms': percentile(sorted, 95).toFixed(1),
    'p99 ms': percentile(sorted, 99).toFixed(1),
    'max ms': sorted.at(-1)?.toFixed(1),
  });
  console.log(
    `\nGET ${PATH} (cached, ${redis ? 'Redis' : 'in-memory cache'}), one at a time; body guard ${guarded ? 'ON (the app as it runs)' : 'OFF (BODY_GUARD=off: 100 KB, no depth limit)'}`,
  );
  console.table([row('alone', alone), row(`while ${ATTACKERS} clients send ${DEPTH.toLocaleString('en-US')}-deep 90 KB bodies`, attacked)]);
  console.log(
    `Attack: ${bodies} bodies in ${attackSeconds.toFixed(1)} s (${(bodies / attackSeconds).toFixed(0)}/s), answered ${[...statuses].map(([status, n]) => `${status} x${n}`).join(', ')}`,
  );
} finally {
  await app.close();
  await database.drop();
  if (redis) {
    const client = new Redis(redis, { maxRetriesPerRequest: 1 });
    await clearAppCache(client, keyPrefix);
    await client.quit();
  }
}
