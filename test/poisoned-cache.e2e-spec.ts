import * as devalue from 'devalue';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { CACHE_NAMESPACE } from '../apps/incidents/src/cache/cache-backend.js';
import { listTag } from '../apps/incidents/src/incidents/incident-tags.js';
import { REDIS_URL } from '../libs/single-flight/test/support/redis-cache.js';
import { createTestDatabase, dropCacheKeys, startApp, type E2eApp } from './support/e2e-app.js';

// Issue 7, point 3, in the sample app: whatever sits under a cached key in Redis, a cached GET
// answers 200 with the database's data, and the entry is replaced. The apps run without the local
// tier (CACHE_LOCAL_MAX=0): it would answer the GETs from memory without reading Redis at all.

const LIST = '/incidents?namespace=payments&limit=5';

describe('poisoned entries in the app\'s Redis', () => {
  const raw = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let app: E2eApp | undefined;
  let keyPrefix: string;

  beforeAll(async () => (database = await createTestDatabase()));
  afterAll(async () => {
    await database.drop();
    await raw.quit();
  });
  beforeEach(() => (keyPrefix = `e2e-poison-${randomUUID().slice(0, 8)}:`));
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await dropCacheKeys(keyPrefix);
  });

  /** The Redis key of the list entry, once a first GET wrote it. */
  const listKey = async () => {
    const keys = (await raw.keys(`${CACHE_NAMESPACE}:${keyPrefix}IncidentsService.list:*`));
    expect(keys).toHaveLength(1);
    return keys[0];
  };
  /** What Keyv reads back as the string `text` (its envelope, as the store's JSON). */
  const asStored = (text: string) => JSON.stringify(JSON.stringify({ value: text, expires: Date.now() + 60_000 }));
  /** The token of the list's one tag, its filter combination (incident-tags.ts). */
  const tokenOfList = async () => {
    const token = await raw.get(`${CACHE_NAMESPACE}:${keyPrefix}#tag:${listTag({ namespace: 'payments' })}`);
    return (JSON.parse(JSON.parse(token!)) as { value: string }).value;
  };

  it('junk, a BigInt, a cycle and a decode bomb at the list key: every GET is a 200 with the real page, and the entry is replaced', async () => {
    app = await startApp(database.url, { keyPrefix, seed: 30, cacheLocalMax: 0 });
    const server = request(app.app.getHttpServer());
    const truth = (await server.get(LIST).expect(200)).body;
    const key = await listKey();
    const token = await tokenOfList();
    const cyclic: Record<string, unknown> = { items: [], total: 1 };
    cyclic.self = cyclic;
    let bomb: unknown = ['x'.repeat(100)];
    for (let i = 0; i < 30; i++) bomb = [bomb, bomb];
    const poisons = {
      junk: 'not json{{',
      bigint: asStored(`sf2|${token}|${devalue.stringify({ items: [], total: 10n ** 20n })}`),
      cycle: asStored(`sf2|${token}|${devalue.stringify(cyclic)}`),
      bomb: asStored(`sf2|${token}|${devalue.stringify({ items: bomb, total: 1 })}`),
    };
    for (const [name, poison] of Object.entries(poisons)) {
      await raw.set(key, poison);
      const responses = await Promise.all(Array.from({ length: 10 }, () => server.get(LIST)));
      expect({ name, statuses: responses.map((r) => r.status) }).toEqual({ name, statuses: Array(10).fill(200) });
      for (const response of responses) expect(response.body).toEqual(truth);
      expect(JSON.parse(JSON.parse((await raw.get(key))!)).value).toMatch(/^sf3\|/); // replaced (lists record their times: they may be served stale)
    }
    expect((await server.get('/health').expect(200)).body).toMatchObject({ status: 'ok' });
  });

  it('with CACHE_SECRET, a well-formed entry written by someone else (wrong data, right format and token) is a miss, and is replaced by a signed one', async () => {
    app = await startApp(database.url, { keyPrefix, seed: 30, cacheSecret: 'k6Vd9q2h1mZrX0bYc3fWnA8sJ5tLpE7u', cacheLocalMax: 0 });
    const server = request(app.app.getHttpServer());
    const truth = (await server.get(LIST).expect(200)).body;
    const key = await listKey();
    const forged = { items: [{ ...truth.items[0], title: 'pay to account 123' }], total: 1 };
    await raw.set(key, asStored(`sf2|${await tokenOfList()}|${devalue.stringify(forged)}`));
    expect((await server.get(LIST).expect(200)).body).toEqual(truth);
    expect(JSON.parse(JSON.parse((await raw.get(key))!)).value).toMatch(/^sf3s\|/);
  });
});
