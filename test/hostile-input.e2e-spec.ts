import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { App } from 'supertest/types.js';
import { createTestDatabase, dropCacheKeys, startApp, type E2eApp } from './support/e2e-app.js';
import { keysUnder } from './support/redis-keys.js';

const keyPrefix = `e2e-hostile-${randomUUID()}:`;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let one: E2eApp;
const http = () => request(one.app.getHttpServer() as App);
const json = (test: request.Test, text: string) => test.set('content-type', 'application/json').send(text);

beforeAll(async () => {
  database = await createTestDatabase();
  one = await startApp(database.url, { keyPrefix, seed: 50 });
});
afterAll(async () => {
  await one?.close();
  await database?.drop();
  await dropCacheKeys(keyPrefix);
});

async function createIncident(fields: Record<string, unknown> = {}) {
  return (await http().post('/incidents').send({ namespace: 'hostile', severity: 'low', title: 'Target', ...fields }).expect(201)).body;
}

const mixedCase = (id: string) => id.replace(/[a-f]/g, (c, i: number) => (i % 2 ? c.toUpperCase() : c));

/** What a 4xx says, as one string, to match the field's name in. */
const said = (response: request.Response) => JSON.stringify(response.body.message);

describe('ids are normalised before they are cached or tagged (point 5)', () => {
  it('a PATCH through an uppercase id is seen by lowercase readers', async () => {
    const { id } = await createIncident();
    await http().get(`/incidents/${id}`).expect(200); // cached under the lowercase id
    const before = one.sql.count;
    await http().get(`/incidents/${id}`).expect(200);
    expect(one.sql.count).toBe(before); // a hit

    await http().patch(`/incidents/${id.toUpperCase()}`).send({ title: 'Renamed through the uppercase id' }).expect(200);
    expect((await http().get(`/incidents/${id}`).expect(200)).body.title).toBe('Renamed through the uppercase id');
  });

  it('every spelling of an id reads the one cache entry', async () => {
    const { id } = await createIncident();
    await http().get(`/incidents/${id}`).expect(200);
    const before = one.sql.count;
    await http().get(`/incidents/${id.toUpperCase()}`).expect(200);
    await http().get(`/incidents/${mixedCase(id)}`).expect(200);
    expect(one.sql.count).toBe(before);
  });

  it('every spelling of an id bumps the one tag token', async () => {
    const { id } = await createIncident();
    await http().get(`/incidents/${id}`).expect(200);
    await http().patch(`/incidents/${id.toUpperCase()}`).send({ severity: 'high' }).expect(200);
    await http().patch(`/incidents/${mixedCase(id)}`).send({ severity: 'medium' }).expect(200);
    await http().get(`/incidents/${id.toUpperCase()}`).expect(200);

    const tokens = (await keysUnder(keyPrefix, '#tag:')).filter((key) => key.toLowerCase().endsWith(`#tag:incident:${id}`));
    expect(tokens).toEqual([expect.stringMatching(new RegExp(`#tag:incident:${id}$`))]);
  });

  it('an uppercase id in a GET answers the incident with its canonical id', async () => {
    const { id } = await createIncident();
    expect((await http().get(`/incidents/${id.toUpperCase()}`).expect(200)).body.id).toBe(id);
  });
});

describe('hostile input is a 4xx naming the field, never a 500 (point 6)', () => {
  const unknownId = '00000000-0000-4000-8000-000000000000';
  const create = { namespace: 'hostile', severity: 'high', title: 'x' };
  // A base letter and a variation selector: one character for class-validator's isLength, two for PostgreSQL.
  const selectors = (n: number) => 'a\uFE0F'.repeat(n);

  it.each([
    ['NUL in a query value', '/incidents?namespace=pay%00ments', /namespace must not contain NUL/],
    ['offset beyond bigint', '/incidents?offset=1e20', /offset must be an integer, written in decimal digits/],
    ['offset of 20 digits', '/incidents?offset=99999999999999999999', /offset must not be greater than 9007199254740991/],
    ['an array-valued namespace', '/incidents?namespace=a&namespace=b', /namespace must be given once, not 2 times/],
    ['an array-valued limit', '/incidents?limit=1&limit=2', /limit must be given once/],
    ['__proto__ in the query', '/incidents?__proto__=x', /property __proto__ should not exist/],
    ['constructor in the query', '/incidents?constructor=x', /property constructor should not exist/],
    ['prototype in the query', '/incidents?prototype=x', /property prototype should not exist/],
    ['a namespace too long in characters', `/incidents?namespace=${encodeURIComponent(selectors(33))}`, /namespace must be shorter than or equal to 64 characters/],
  ])('GET: %s', async (_, path, message) => {
    const response = await http().get(path);
    expect(response.status).toBe(400);
    expect(said(response)).toMatch(message);
  });

  it.each(['1e3', '0x10', '%205', '5.0', '', '+5', '5%20', '1_000', 'Infinity', '٣'])('limit and offset are decimal digits only: %j is refused for both', async (spelling) => {
    for (const field of ['limit', 'offset']) {
      const response = await http().get(`/incidents?${field}=${spelling}`);
      expect(response.status).toBe(400);
      expect(said(response)).toMatch(new RegExp(`${field} must be an integer, written in decimal digits`));
    }
  });

  it('leading zeros are decimal digits too, and the same page (and cache entry) as without', async () => {
    const plain = await http().get('/incidents?limit=5&offset=3').expect(200);
    const before = one.sql.count;
    const padded = await http().get('/incidents?limit=005&offset=03').expect(200);
    expect(padded.body).toEqual(plain.body);
    expect(one.sql.count).toBe(before);
  });

  it('the largest offset is an empty page with the total, not a database error', async () => {
    const { body } = await http().get(`/incidents?offset=${Number.MAX_SAFE_INTEGER}`).expect(200);
    expect(body.items).toEqual([]);
    expect(body.total).toBeGreaterThanOrEqual(50);
  });

  it.each([
    ['NUL in a title', { ...create, title: 'a\u0000b' }, /title must not contain NUL/],
    ['NUL in a namespace', { ...create, namespace: '\u0000' }, /namespace must not contain NUL/],
    ['NUL in a description', { ...create, description: 'x\u0000' }, /description must not contain NUL/],
    ['a lone surrogate in a title', { ...create, title: 'a\ud800b' }, /title must be well-formed Unicode/],
    ['a lone low surrogate in a description', { ...create, description: '\udc00' }, /description must be well-formed Unicode/],
    ['a title within isLength but over varchar(200)', { ...create, title: selectors(101) }, /title must be shorter than or equal to 200 characters/],
    ['a namespace within isLength but over varchar(64)', { ...create, namespace: selectors(40) }, /namespace must be shorter than or equal to 64 characters/],
    ['a description over 10,000 characters', { ...create, description: selectors(5_001) }, /description must be shorter than or equal to 10000 characters/],
    ['a null title', { ...create, title: null }, /title must not be null/],
    ['a numeric title', { ...create, title: 5 }, /title must be a string/],
  ])('POST: %s', async (_, body, message) => {
    const response = await http().post('/incidents').send(body);
    expect(response.status).toBe(400);
    expect(said(response)).toMatch(message);
  });

  it.each([
    ['__proto__', '{"namespace":"hostile","severity":"high","title":"x","__proto__":{"title":"polluted"}}'],
    ['constructor', '{"namespace":"hostile","severity":"high","title":"x","constructor":{"prototype":{"polluted":true}}}'],
    ['prototype', '{"namespace":"hostile","severity":"high","title":"x","prototype":1}'],
    ['toString', '{"namespace":"hostile","severity":"high","title":"x","toString":"x"}'],
  ])('POST: a %s key is refused as an unknown field', async (key, body) => {
    const response = await json(http().post('/incidents'), body);
    expect(response.status).toBe(400);
    expect(said(response)).toContain(`property ${key} should not exist`);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ['a null title', { title: null }, /title must not be null/],
    ['a null status', { status: null }, /status must be one of the following values/],
    ['a null severity', { severity: null }, /severity must be one of the following values/],
    ['NUL in a title', { title: '\u0000' }, /title must not contain NUL/],
    ['a title over varchar(200)', { title: selectors(101) }, /title must be shorter than or equal to 200 characters/],
  ])('PATCH: %s', async (_, body, message) => {
    const { id } = await createIncident();
    const response = await http().patch(`/incidents/${id}`).send(body);
    expect(response.status).toBe(400);
    expect(said(response)).toMatch(message);
  });

  it('PATCH: a __proto__ key is refused, and nothing changes', async () => {
    const incident = await createIncident();
    const response = await json(http().patch(`/incidents/${incident.id}`), '{"__proto__":{"title":null},"status":"resolved"}');
    expect(response.status).toBe(400);
    expect(said(response)).toContain('property __proto__ should not exist');
    expect((await http().get(`/incidents/${incident.id}`).expect(200)).body).toEqual(incident);
  });

  it('PATCH: a null description clears it (the column is nullable)', async () => {
    const { id } = await createIncident({ description: 'to be cleared' });
    expect((await http().patch(`/incidents/${id}`).send({ description: null }).expect(200)).body.description).toBeNull();
    expect((await http().get(`/incidents/${id}`).expect(200)).body.description).toBeNull();
  });

  it.each([
    ['a form', 'application/x-www-form-urlencoded', 'namespace=hostile&severity=high&title=form'],
    ['plain text', 'text/plain', JSON.stringify({ ...create, title: 'text' })],
    ['a JSON media type of another name', 'application/vnd.api+json', JSON.stringify({ ...create, title: 'vnd' })],
    ['multipart', 'multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="title"\r\n\r\nmultipart\r\n--x--\r\n'],
  ])('%s is a 415 on POST and PATCH, and writes nothing', async (_, type, body) => {
    const { id, title } = await createIncident();
    const post = await http().post('/incidents').set('content-type', type).send(body);
    expect(post.status).toBe(415);
    expect(said(post)).toMatch(/Content-Type must be application\/json/);
    const patch = await http().patch(`/incidents/${id}`).set('content-type', type).send(body);
    expect(patch.status).toBe(415);
    expect((await http().get(`/incidents/${id}`).expect(200)).body.title).toBe(title);
    expect((await http().get('/incidents?namespace=hostile&limit=100').expect(200)).body.items.map((i: { title: string }) => i.title)).not.toContain('form');
  });

  it('a body without a Content-Type is a 415', async () => {
    const response = await http().post('/incidents').send(Buffer.from(JSON.stringify(create)));
    expect(response.status).toBe(415);
    expect(said(response)).toMatch(/got none/);
  });

  it('JSON in a charset other than UTF-8 is a 415', async () => {
    const response = await http().post('/incidents').set('content-type', 'application/json; charset=utf-16le').send(Buffer.from(JSON.stringify(create), 'utf16le'));
    expect(response.status).toBe(415);
    expect(said(response)).toMatch(/charset/);
  });

  it('text at the limits, in astral characters, is stored and read back exactly', async () => {
    const fields = { namespace: '🚀'.repeat(64), title: '😀'.repeat(200), description: '𝄞'.repeat(10_000) };
    const created = await createIncident(fields);
    expect(created).toMatchObject(fields);
    expect((await http().get(`/incidents/${created.id}`).expect(200)).body).toMatchObject(fields);
  });
});

describe('deep or large JSON bodies are refused before they are parsed (point 7)', () => {
  const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

  it.each(['POST', 'PATCH'])('%s: 90 KB nested 45,000 deep is a 400 saying so', async (method) => {
    const { id } = await createIncident();
    const test = method === 'POST' ? http().post('/incidents') : http().patch(`/incidents/${id}`);
    const response = await json(test, nested(45_000));
    expect(response.status).toBe(400);
    expect(response.body.message).toBe('JSON body nested deeper than 8 levels');
  });

  it('objects count as arrays do; 8 levels pass the scan (and meet the DTO), 9 do not', async () => {
    // The body's own object, then depth - 1 objects inside it.
    const wrap = (depth: number) => `{"namespace":"hostile","severity":"high","title":"x","extra":${'{"a":'.repeat(depth - 2)}{}${'}'.repeat(depth - 2)}}`;
    const eight = await json(http().post('/incidents'), wrap(8));
    expect(eight.status).toBe(400);
    expect(said(eight)).toMatch(/property extra should not exist/);
    const nine = await json(http().post('/incidents'), wrap(9));
    expect(nine.status).toBe(400);
    expect(nine.body.message).toBe('JSON body nested deeper than 8 levels');
  });

  it('brackets and escaped quotes inside strings are text, not depth', async () => {
    const title = `\\"[{${'['.repeat(150)}`;
    const created = await json(http().post('/incidents'), `{"namespace":"hostile","severity":"high","title":"${title}"}`).expect(201);
    expect(created.body.title).toBe(`"[{${'['.repeat(150)}`);
  });

  it('the largest valid body (10,000 astral characters as \\u escapes, ~120 KB) fits the limit', async () => {
    const escaped = '\\ud834\\udd1e'.repeat(10_000);
    const response = await json(http().post('/incidents'), `{"namespace":"hostile","severity":"low","title":"escaped","description":"${escaped}"}`);
    expect(response.status).toBe(201);
    expect(response.body.description).toBe('𝄞'.repeat(10_000));
  });

  it('a body over 128 KB is a 413', async () => {
    const response = await http().post('/incidents').send({ namespace: 'hostile', severity: 'low', title: 'big', description: 'x'.repeat(132_000) });
    expect(response.status).toBe(413);
  });

  it('40 deep bodies at once are all refused, and a cached read is still served', async () => {
    await http().get('/incidents/stats').expect(200);
    const attacks = Array.from({ length: 40 }, () => json(http().post('/incidents'), nested(45_000)));
    const statuses = (await Promise.all(attacks)).map((r) => r.status);
    expect(new Set(statuses)).toEqual(new Set([400]));
    await http().get('/incidents/stats').expect(200);
  });
});
