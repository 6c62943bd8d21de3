import request from 'supertest';
import { randomUUID } from 'node:crypto';
import { createTestDatabase, dropCacheKeys, startApp, type E2eApp } from './support/e2e-app.js';

/**
 * `GET /metrics` scraped as Prometheus would, after known requests: the library's counters per
 * method, HTTP durations by route template, and the database pool, in Prometheus text format.
 * The process's metrics SDK is shared by every app this file starts: values are read as differences.
 */

/** The sum of the samples of `name` whose labels include every pair of `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const pairs = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => pairs[k] === v)) sum += Number(match[3]);
  }
  return sum;
}

describe('GET /metrics (Prometheus text format)', () => {
  let db: { url: string; drop(): Promise<void> };
  let app: E2eApp;
  const keyPrefix = `e2e-metrics-${randomUUID().slice(0, 8)}:`;
  const scrape = async () => (await request(app.app.getHttpServer()).get('/metrics').expect(200).expect('content-type', /^text\/plain/)).text;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startApp(db.url, { keyPrefix, seed: 30 });
  });
  afterAll(async () => {
    await app.close();
    await db.drop();
    await dropCacheKeys(keyPrefix);
  });

  it("counts a miss and its load, then hits, per method; the SQL statements sent; HTTP durations by route template", async () => {
    const server = app.app.getHttpServer();
    const list = { method: 'IncidentsService.list' };
    const before = await scrape();
    await request(server).get('/incidents?namespace=metrics').expect(200);
    const afterMiss = await scrape();
    for (let i = 0; i < 3; i++) await request(server).get('/incidents?namespace=metrics').expect(200);
    const afterHits = await scrape();

    const delta = (a: string, b: string, name: string, labels: Record<string, string> = {}) => sample(b, name, labels) - sample(a, name, labels);
    expect(delta(before, afterMiss, 'singleflight_misses_total', list)).toBe(1);
    expect(delta(before, afterMiss, 'singleflight_loads_total', { ...list, outcome: 'ok' })).toBe(1);
    expect(delta(before, afterMiss, 'singleflight_load_duration_count', list)).toBe(1);
    expect(delta(before, afterMiss, 'db_client_statements_total')).toBe(1);
    // Three more requests: three hits (the local tier's or the store's), no load, no statement.
    expect(delta(afterMiss, afterHits, 'singleflight_hits_total', list)).toBe(3);
    expect(delta(afterMiss, afterHits, 'singleflight_loads_total', list)).toBe(0);
    expect(delta(afterMiss, afterHits, 'db_client_statements_total')).toBe(0);
    expect(delta(before, afterHits, 'http_server_request_duration_count', { http_route: '/incidents', http_response_status_code: '200' })).toBe(4);
  });

  it('labels requests by route template, never by the id in the path; 404s included', async () => {
    const server = app.app.getHttpServer();
    const id = randomUUID();
    await request(server).get(`/incidents/${id}`).expect(404);
    await request(server).get('/no-such-route').expect(404);
    const text = await scrape();
    expect(sample(text, 'http_server_request_duration_count', { http_route: '/incidents/:id', http_response_status_code: '404' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'http_server_request_duration_count', { http_route: 'unmatched' })).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain(id);
    expect(text).toContain('# TYPE http_server_request_duration histogram');
  });

  it("shows the database pool next to the cache: connections by state, waiting checkouts, its size, checkout times", async () => {
    const text = await scrape();
    for (const name of ['db_client_connection_count', 'db_client_connection_pending_requests', 'db_client_connection_max', 'db_client_connection_wait_time_count']) {
      expect(text).toMatch(new RegExp(`^${name}\\{`, 'm'));
    }
    expect(sample(text, 'db_client_connection_max')).toBeGreaterThanOrEqual(10);
    expect(text).toMatch(/^# TYPE singleflight_load_duration histogram$/m);
  });
});
