import { jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { SingleFlightStats } from '@app/single-flight';
import { DASHBOARD_FRESHNESS } from '../apps/incidents/src/incidents/cache-ttls.js';
import request from 'supertest';
import type { App } from 'supertest/types.js';
import { DatabaseSwitch } from '../apps/incidents/src/scripts/database-switch.js';
import { createTestDatabase, dropCacheKeys, startApp, type E2eApp } from './support/e2e-app.js';

// Issue 9: the app's database made unavailable to the loaders (a relay in front of the real
// PostgreSQL, cut), its cached reads past their ttl. Lists and stats carry staleWhileRevalidate
// (30 s past the ttl) and then staleIfError (10 min): in either window every request is answered
// with the last value. A single incident has neither: its requests fail, as a 503 the client may
// retry, never a 500.

const TTL = 1_000;
const keyPrefix = `e2e-down-${randomUUID()}:`;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let relay: DatabaseSwitch;
let one: E2eApp;
const get = (path: string) => request(one.app.getHttpServer() as App).get(path).timeout(5_000);

beforeAll(async () => {
  database = await createTestDatabase();
  relay = await DatabaseSwitch.start(database.url);
  one = await startApp(relay.url, { keyPrefix, seed: 30, cacheTtlMs: TTL });
});
afterAll(async () => {
  relay?.restore();
  await one?.close();
  await relay?.close();
  await database?.drop();
  await dropCacheKeys(keyPrefix);
});

const LISTS = ['/incidents?limit=5', '/incidents?severity=critical&limit=5', '/incidents?namespace=payments&limit=5'];

describe('the database down, cached reads past their ttl', () => {
  it('within staleWhileRevalidate, lists and stats: 0 errors, the last values; an incident (no stale window): 503s; back up: fresh again', async () => {
    const warm = await Promise.all([...LISTS, '/incidents/stats'].map((path) => get(path).expect(200)));
    const { body: page } = warm[0];
    const id = (page.items as { id: string }[])[0].id;
    await get(`/incidents/${id}`).expect(200);

    relay.cut();
    await new Promise((resolve) => setTimeout(resolve, TTL + 100)); // every entry past its ttl
    const stale = await Promise.all(Array.from({ length: 5 }, () => [...LISTS, '/incidents/stats'].map((path) => get(path))).flat());
    expect(stale.map((r) => r.status)).toEqual(stale.map(() => 200));
    for (let i = 0; i < stale.length; i++) expect(stale[i].body).toEqual(warm[i % warm.length].body);

    const single = await Promise.all(Array.from({ length: 5 }, () => get(`/incidents/${id}`)));
    expect(single.map((r) => r.status)).toEqual([503, 503, 503, 503, 503]);
    expect(single[0].headers['retry-after']).toBe('1');

    relay.restore();
    await get(`/incidents/${id}`).expect(200);
    // A write evicts the lists: the next read loads, whatever their stale windows.
    const { body: created } = await request(one.app.getHttpServer() as App)
      .post('/incidents')
      .send({ namespace: 'payments', title: 'Written after the outage', severity: 'critical' })
      .expect(201);
    const { body: after } = await get('/incidents?namespace=payments&limit=5').expect(200);
    expect(after.items[0].id).toBe(created.id);
  });
  it('past staleWhileRevalidate, inside staleIfError: lists and stats are still the last values, by staleIfError (a failed load each, then backoff), not by a revalidation', async () => {
    const warm = await Promise.all([...LISTS, '/incidents/stats'].map((path) => get(path).expect(200)));
    const stats = one.app.get(SingleFlightStats);
    relay.cut();
    await new Promise((resolve) => setTimeout(resolve, TTL + 100)); // every entry past its ttl, the local tier's copies gone
    // Then only the wall clock (Date, which entries are stamped with) jumps past staleWhileRevalidate; timers, sockets and the relay run on real time.
    jest.useFakeTimers({
      doNotFake: ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'],
      advanceTimers: true,
    });
    try {
      jest.setSystemTime(Date.now() + DASHBOARD_FRESHNESS.staleWhileRevalidate);
      stats.reset();
      const stale = await Promise.all(Array.from({ length: 5 }, () => [...LISTS, '/incidents/stats'].map((path) => get(path))).flat());
      expect(stale.map((r) => r.status)).toEqual(stale.map(() => 200));
      for (let i = 0; i < stale.length; i++) expect(stale[i].body).toEqual(warm[i % warm.length].body);
      const served = Object.values(stats.snapshot().methods).reduce(
        (sum, m) => ({ revalidate: sum.revalidate + m.stale.revalidate, byError: sum.byError + m.stale.error + m.stale.backoff + m.stale.soft_timeout }),
        { revalidate: 0, byError: 0 },
      );
      expect(served.revalidate).toBe(0);
      expect(served.byError).toBeGreaterThanOrEqual(LISTS.length + 1);
    } finally {
      jest.useRealTimers();
      relay.restore();
    }
  });
});
