import { randomUUID } from 'node:crypto';
import { types } from 'node:util';
import request from 'supertest';
import type { App } from 'supertest/types.js';
import { IncidentsService } from '../apps/incidents/src/incidents/incidents.service.js';
import { createTestDatabase, dropCacheKeys, startApp, type E2eApp } from './support/e2e-app.js';
import { waitFor } from './support/wait-for.js';

const SEEDED = 300;
/** Longest wait for another instance's eviction to arrive over the bus (a local Redis: milliseconds). */
const BUS_WAIT_MS = 2_000;
const keyPrefix = `e2e-${randomUUID()}:`;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let one: E2eApp;
let two: E2eApp;
const http = (instance: E2eApp) => request(instance.app.getHttpServer() as App);

beforeAll(async () => {
  database = await createTestDatabase();
  one = await startApp(database.url, { keyPrefix, seed: SEEDED });
  two = await startApp(database.url, { keyPrefix });
});
afterAll(async () => {
  await one?.close();
  await two?.close();
  await database?.drop();
  await dropCacheKeys(keyPrefix);
});

/** Fires `n` identical requests at once and returns the SQL statements they cost. */
async function stampede(instance: E2eApp, path: string, n: number) {
  const before = instance.sql.count;
  const responses = await Promise.all(Array.from({ length: n }, () => http(instance).get(path)));
  return { statements: instance.sql.count - before, responses };
}

describe('a stampede costs one SQL statement per distinct query', () => {
  it.each([
    ['the list', '/incidents?namespace=payments&limit=10&offset=5'],
    ['the stats', '/incidents/stats'],
  ])('%s: 200 concurrent GETs', async (_, path) => {
    const { statements, responses } = await stampede(one, path, 200);
    expect(statements).toBe(1);
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(new Set(responses.map((r) => r.text)).size).toBe(1);
  });

  it('one incident by id: 200 concurrent GETs', async () => {
    const { body } = await http(one).get('/incidents?limit=1&offset=7').expect(200);
    const { statements, responses } = await stampede(one, `/incidents/${body.items[0].id}`, 200);
    expect(statements).toBe(1);
    expect(responses.every((r) => r.status === 200 && r.body.id === body.items[0].id)).toBe(true);
  });

  it('each distinct query costs its own one', async () => {
    const paths = ['severity=high', 'severity=low', 'status=open&limit=5'].map((q) => `/incidents?${q}`);
    const before = one.sql.count;
    await Promise.all(paths.flatMap((path) => Array.from({ length: 50 }, () => http(one).get(path).expect(200))));
    expect(one.sql.count - before).toBe(paths.length);
  });

  it('with SINGLE_FLIGHT=off (the kill switch), every request queries', async () => {
    const off = await startApp(database.url, { keyPrefix, singleFlight: false });
    const { statements } = await stampede(off, '/incidents?namespace=search', 50);
    expect(statements).toBe(50);
    await off.close();
  });
});

describe('reads after a write see it', () => {
  it('list, stats and get reflect a POST right away', async () => {
    const list = (await http(one).get('/incidents?namespace=e2e-post').expect(200)).body;
    const stats = (await http(one).get('/incidents/stats').expect(200)).body;
    const created = (
      await http(one).post('/incidents').send({ namespace: 'e2e-post', severity: 'critical', title: 'Payment provider timeout' }).expect(201)
    ).body;
    expect(created).toMatchObject({ namespace: 'e2e-post', severity: 'critical', status: 'open', description: null, resolvedAt: null });
    expect(new Date(created.createdAt).getTime()).toBeGreaterThan(Date.now() - 60_000);

    const after = (await http(one).get('/incidents?namespace=e2e-post').expect(200)).body;
    expect(after.total).toBe(list.total + 1);
    expect(after.items[0].id).toBe(created.id);
    expect((await http(one).get('/incidents/stats').expect(200)).body.bySeverity.critical).toBe(stats.bySeverity.critical + 1);
    await http(one).get(`/incidents/${created.id}`).expect(200, created);
  });

  it('PATCH status=resolved sets resolvedAt, and the next GET shows it', async () => {
    const { body } = await http(one).get('/incidents?status=open&limit=1').expect(200);
    const id = body.items[0].id;
    await http(one).get(`/incidents/${id}`).expect(200); // cached
    const patched = (await http(one).patch(`/incidents/${id}`).send({ status: 'resolved' }).expect(200)).body;
    expect(patched.status).toBe('resolved');
    expect(new Date(patched.resolvedAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect((await http(one).get(`/incidents/${id}`).expect(200)).body).toEqual(patched);
    const reopened = (await http(one).patch(`/incidents/${id}`).send({ status: 'open' }).expect(200)).body;
    expect(reopened.resolvedAt).toBeNull();
  });

  // In its local tier, each instance learns of the other's writes from the bus: within a bounded
  // wait, then for good (test/fleet.e2e-spec.ts times it and shows the local hits).
  it('two instances sharing one Redis see each other’s writes', async () => {
    const before = (await http(one).get('/incidents?namespace=e2e-shared').expect(200)).body;
    await http(two).get('/incidents?namespace=e2e-shared').expect(200); // both have it cached
    const created = (await http(two).post('/incidents').send({ namespace: 'e2e-shared', severity: 'low', title: 'Shared' }).expect(201)).body;
    const total = async () => (await http(one).get('/incidents?namespace=e2e-shared').expect(200)).body.total;
    expect(await waitFor(async () => (await total()) === before.total + 1, BUS_WAIT_MS)).toBe(true);
    expect(await total()).toBe(before.total + 1);

    await http(one).get(`/incidents/${created.id}`).expect(200);
    await http(two).patch(`/incidents/${created.id}`).send({ title: 'Shared, renamed' }).expect(200);
    const title = async () => (await http(one).get(`/incidents/${created.id}`).expect(200)).body.title;
    expect(await waitFor(async () => (await title()) === 'Shared, renamed', BUS_WAIT_MS)).toBe(true);
    expect(await title()).toBe('Shared, renamed');
  });

  it('a second instance is served from the first one’s cache entry', async () => {
    const path = '/incidents?namespace=identity&severity=medium';
    await http(one).get(path).expect(200);
    const before = two.sql.count;
    await http(two).get(path).expect(200);
    expect(two.sql.count).toBe(before);
  });
});

describe('dates are right after a cache hit', () => {
  it('through HTTP and in the service', async () => {
    const { body } = await http(one).get('/incidents?status=resolved&limit=1&offset=3').expect(200);
    const row = body.items[0];
    const first = (await http(one).get(`/incidents/${row.id}`).expect(200)).body;
    const hit = (await http(one).get(`/incidents/${row.id}`).expect(200)).body;
    expect(hit.createdAt).toBe(row.createdAt);
    expect(hit.resolvedAt).toBe(row.resolvedAt);
    expect(hit).toEqual(first);

    const service = one.app.get(IncidentsService);
    const cached = await service.get(row.id);
    expect(types.isDate(cached!.createdAt)).toBe(true);
    expect(cached!.createdAt.toISOString()).toBe(row.createdAt);
    expect(types.isDate(cached!.resolvedAt)).toBe(true);
  });
});

describe('bad input is a 400 naming the field; unknown ids are 404s', () => {
  const unknownId = '00000000-0000-4000-8000-000000000000';
  it.each([
    ['GET', '/incidents?severity=urgent', undefined, /severity must be one of/],
    ['GET', '/incidents?status=closed', undefined, /status must be one of/],
    ['GET', '/incidents?limit=0', undefined, /limit must not be less than 1/],
    ['GET', '/incidents?limit=101', undefined, /limit must not be greater than 100/],
    ['GET', '/incidents?limit=abc', undefined, /limit must be an integer/],
    ['GET', '/incidents?offset=-1', undefined, /offset must not be less than 0/],
    ['GET', '/incidents?sort=title', undefined, /property sort should not exist/],
    ['GET', '/incidents/not-a-uuid', undefined, /id must be a UUID/],
    ['PATCH', '/incidents/not-a-uuid', { status: 'resolved' }, /id must be a UUID/],
    ['POST', '/incidents', { severity: 'high', title: 'x' }, /namespace must be/],
    ['POST', '/incidents', { namespace: 'a', severity: 'urgent', title: 'x' }, /severity must be one of/],
    ['POST', '/incidents', { namespace: 'a', severity: 'high' }, /title must be/],
    ['POST', '/incidents', { namespace: 'a', severity: 'high', title: 'x', owner: 'me' }, /property owner should not exist/],
    ['POST', '/incidents', { namespace: 'a', severity: 'high', title: 'x'.repeat(201) }, /title must be shorter than or equal to 200/],
    ['PATCH', `/incidents/${unknownId}`, { status: 'done' }, /status must be one of/],
    ['PATCH', `/incidents/${unknownId}`, { resolvedAt: '2026-01-01' }, /property resolvedAt should not exist/],
  ])('%s %s %j', async (method, path, body, message) => {
    const call = method === 'GET' ? http(one).get(path) : method === 'POST' ? http(one).post(path).send(body) : http(one).patch(path).send(body);
    const response = await call;
    expect(response.status).toBe(400);
    expect(JSON.stringify(response.body.message)).toMatch(message);
  });

  it('malformed JSON is a 400', async () => {
    const response = await http(one).post('/incidents').set('content-type', 'application/json').send('{"namespace": "a",');
    expect(response.status).toBe(400);
    expect(response.body.message).toMatch(/JSON/);
  });

  it('an unknown id is a 404 on GET and on PATCH, and PATCH creates nothing', async () => {
    await http(one).get(`/incidents/${unknownId}`).expect(404);
    await http(one).patch(`/incidents/${unknownId}`).send({ status: 'resolved' }).expect(404);
    await http(one).get(`/incidents/${unknownId}`).expect(404);
  });
});

describe('docs', () => {
  it('serves the OpenAPI document', async () => {
    const { body } = await http(one).get('/docs-json').expect(200);
    expect(Object.keys(body.paths)).toEqual(expect.arrayContaining(['/incidents', '/incidents/{id}', '/incidents/stats', '/health']));
  });
});
