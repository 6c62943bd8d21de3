import { CacheModule } from '@nestjs/cache-manager';
import { Controller, Get, Injectable, type INestApplication, Param, UseInterceptors } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import * as devalue from 'devalue';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { Cached, CachedInterceptor, SingleFlight, SingleFlightConfigError, SingleFlightModule, type SingleFlightModuleOptions } from '@app/single-flight';
import { CachedExecutor } from '../src/cached-executor.js';
import { captureWarnings } from './support/captured-logs.js';
import { dropNamespace, REDIS_URL, redisKeyv } from './support/redis-cache.js';
import { createTestApp } from './support/test-app.js';

/**
 * Issue 7, point 3: a poisoned or corrupt entry in the shared store is a miss, and is replaced;
 * the store that holds it is healthy; with a `secret`, only entries this application signed count.
 * On the real Redis, each test under a namespace of its own.
 */

const warnings = captureWarnings();

@Injectable()
class Pages {
  loads: string[] = [];

  @Cached({ ttl: 60_000 })
  @SingleFlight()
  async page(id: string): Promise<{ id: string; rows: { n: number; at: Date }[] }> {
    this.loads.push(id);
    return { id, rows: [1, 2, 3].map((n) => ({ n, at: new Date(Date.UTC(2026, 0, n)) })) };
  }

  @Cached({ ttl: 60_000, freeze: true })
  async frozenPage(id: string): Promise<{ id: string; rows: { n: number; at: Date }[] }> {
    this.loads.push(`frozen:${id}`);
    return { id, rows: [{ n: 1, at: new Date(0) }] };
  }

  /** Feeds an HTTP response (a controller returns it): JSON follows. */
  @Cached({ ttl: 60_000, json: true })
  async summary(id: string): Promise<{ id: string; total: number }> {
    this.loads.push(`summary:${id}`);
    return { id, total: 3 };
  }

  @Cached({ ttl: 60_000 })
  async counter(id: string): Promise<{ id: string; views: bigint }> {
    this.loads.push(`counter:${id}`);
    return { id, views: 10n ** 20n };
  }
}

/** Coalesced, not cached: nothing is read from a shared store, so the decode limits do not apply. */
@Injectable()
class Graphs {
  loads = 0;
  @SingleFlight()
  async graph(): Promise<Record<string, unknown>> {
    this.loads++;
    const node: Record<string, unknown> = { name: 'root' };
    node.self = node;
    return node;
  }
}

@Controller('pages')
@UseInterceptors(CachedInterceptor)
class PagesController {
  loads = 0;
  rawLoads = 0;

  /** Says JSON does not follow (the application sends it some other way). */
  @Get('raw/:id')
  @Cached({ ttl: 60_000, json: false })
  async raw(@Param('id') id: string) {
    this.rawLoads++;
    return { id, total: 3 };
  }

  @Get(':id')
  @Cached({ ttl: 60_000 })
  async one(@Param('id') id: string) {
    this.loads++;
    return { id, total: 3 };
  }
}

const raw = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
afterAll(() => raw.quit());

let namespace: string;
let app: TestingModule;
beforeEach(() => (namespace = `sf-poison-${randomUUID().slice(0, 8)}`));
afterEach(async () => {
  await app?.close();
  await dropNamespace(namespace);
});

const start = async (options: SingleFlightModuleOptions = {}) => (app = await createTestApp([Pages], { stores: [redisKeyv(namespace)], options }));
/** The Redis key of the only entry of `method` with `id` (written by a first call). */
const entryKey = async (fragment: string) => {
  const keys = (await raw.keys(`${namespace}:*`)).filter((k) => k.includes(fragment) && !k.includes('#tag:'));
  expect(keys).toHaveLength(1);
  return keys[0];
};
/** What Keyv (through cache-manager-ioredis-yet) reads back as the string `text`: its envelope, as the store's JSON. */
const asStored = (text: string) => JSON.stringify(JSON.stringify({ value: text, expires: Date.now() + 60_000 }));
/** The string Keyv reads back from the Redis key. */
const storedText = async (key: string) => (JSON.parse(JSON.parse((await raw.get(key))!)) as { value: string }).value;
const breaker = () => app.get(CachedExecutor).layout!.sharedBreaker!;

describe('junk the store answers is a miss, and is replaced; the store is healthy', () => {
  it('non-JSON junk at the 5 hottest keys: each is loaded once and replaced, the circuit never opens, no failure counted', async () => {
    await start({ circuitBreaker: { failureThreshold: 2, resetTimeout: 60_000 } });
    const pages = app.get(Pages);
    const ids = ['a', 'b', 'c', 'd', 'e'];
    for (const id of ids) await pages.page(id);
    for (const id of ids) await raw.set(await entryKey(`"${id}"`), 'not json{{');
    pages.loads = [];
    for (let round = 0; round < 20; round++) {
      await Promise.all(ids.map(async (id) => expect((await pages.page(id)).id).toBe(id)));
    }
    expect(pages.loads.sort()).toEqual(ids); // once each: then the replaced entry is a hit
    expect(breaker().failures).toBe(0);
    expect(breaker().isOpen).toBe(false);
    for (const id of ids) expect(await storedText(await entryKey(`"${id}"`))).toMatch(/^sf2\|/);
  });

  it('an entry in the library\'s format whose value does not decode is a miss, replaced', async () => {
    await start();
    const pages = app.get(Pages);
    await pages.page('a');
    await raw.set(await entryKey('"a"'), asStored('sf2||[{"id":1},"unterminated'));
    await expect(pages.page('a')).resolves.toMatchObject({ id: 'a' });
    await expect(pages.page('a')).resolves.toMatchObject({ id: 'a' });
    expect(pages.loads).toEqual(['a', 'a']);
    expect(warnings.some((w) => /Ignoring a cache entry under ".*Pages\.page.*" \(a miss; the next load replaces it\)/.test(w))).toBe(true);
  });
});

describe('an entry that decodes to what the method cannot have returned is a miss, and is replaced', () => {
  /** A devalue text of a value the library would never write, in an untagged entry. */
  const poison = async (fragment: string, value: unknown) => raw.set(await entryKey(fragment), asStored(`sf2||${devalue.stringify(value)}`));

  it('a cycle', async () => {
    await start();
    const pages = app.get(Pages);
    await pages.page('a');
    const cyclic: Record<string, unknown> = { id: 'a', rows: [] };
    cyclic.self = cyclic;
    await poison('"a"', cyclic);
    const value = await pages.page('a');
    expect(value).toEqual({ id: 'a', rows: expect.any(Array) });
    expect(() => JSON.stringify(value)).not.toThrow();
    expect(pages.loads).toEqual(['a', 'a']);
    await pages.page('a');
    expect(pages.loads).toEqual(['a', 'a']); // replaced
  });

  it('shared references that expand beyond decodeLimits.maxLength: a 300-byte entry that JSON would write as gigabytes', async () => {
    await start();
    const pages = app.get(Pages);
    await pages.page('a');
    let bomb: unknown = ['x'.repeat(100)];
    for (let i = 0; i < 30; i++) bomb = [bomb, bomb];
    const text = devalue.stringify({ id: 'a', rows: bomb });
    expect(text.length).toBeLessThan(400);
    await poison('"a"', { id: 'a', rows: bomb });
    await expect(pages.page('a')).resolves.toMatchObject({ id: 'a', rows: [{ n: 1 }, { n: 2 }, { n: 3 }] });
    expect(pages.loads).toEqual(['a', 'a']);
    expect(warnings.some((w) => /longer than 8388608 characters \(decodeLimits\.maxLength\) once its shared references are expanded/.test(w))).toBe(true);
  });

  it('nesting deeper than decodeLimits.maxDepth, and text longer than maxLength (limits set in forRoot)', async () => {
    await start({ decodeLimits: { maxDepth: 8, maxLength: 2_000 } });
    const pages = app.get(Pages);
    await pages.page('a');
    await pages.page('b');
    let deep: unknown = 1;
    for (let i = 0; i < 9; i++) deep = [deep];
    await poison('"a"', { id: 'a', rows: deep });
    await poison('"b"', { id: 'b', rows: 'y'.repeat(3_000) });
    await expect(pages.page('a')).resolves.toMatchObject({ id: 'a', rows: [{ n: 1 }, { n: 2 }, { n: 3 }] });
    await expect(pages.page('b')).resolves.toMatchObject({ id: 'b', rows: [{ n: 1 }, { n: 2 }, { n: 3 }] });
    expect(pages.loads).toEqual(['a', 'b', 'a', 'b']);
    expect(warnings.join('\n')).toMatch(/nested deeper than 8 levels/);
    expect(warnings.join('\n')).toMatch(/takes \d+ characters, more than 2000/);
  });

  it('a value beyond the limits is not cached (nothing is written that a reader would refuse), with one warning; concurrent callers still share one load, each with a copy', async () => {
    await start({ decodeLimits: { maxDepth: 3 } });
    const pages = app.get(Pages);
    const burst = await Promise.all(Array.from({ length: 5 }, () => pages.page('a'))); // { id, rows: [ { at } ] }: the Date is a fourth level
    expect(pages.loads).toEqual(['a']);
    expect(new Set(burst).size).toBe(5);
    expect(burst[4]).toEqual(burst[0]);
    await pages.page('a');
    expect(pages.loads).toEqual(['a', 'a']);
    expect(await raw.keys(`${namespace}:*`)).toEqual([]);
    expect(warnings.filter((w) => /^Pages\.page returned a value the cache would refuse to read back \(it is nested deeper than 3 levels.*\): it is not cached; its callers still share it, as copies$/.test(w))).toHaveLength(1);
  });

  it('with freeze, too, a value beyond the limits is never cached, on its first load or a later one', async () => {
    await start({ decodeLimits: { maxDepth: 3 } });
    const pages = app.get(Pages);
    for (let i = 0; i < 3; i++) expect(Object.isFrozen(await pages.frozenPage('a'))).toBe(true);
    expect(pages.loads).toEqual(['frozen:a', 'frozen:a', 'frozen:a']);
    expect(await raw.keys(`${namespace}:*`)).toEqual([]);
  });

  it('a @SingleFlight method without @Cached: a cyclic value is shared by one flight, as copies, with no warning', async () => {
    app = await createTestApp([Graphs], { stores: [redisKeyv(namespace)] });
    const graphs = app.get(Graphs);
    const [x, y] = await Promise.all([graphs.graph(), graphs.graph()]);
    expect(graphs.loads).toBe(1);
    expect(x).not.toBe(y);
    expect(x.self).toBe(x);
    expect(warnings).toEqual([]);
  });

  it('a BigInt is a value like any other for a provider method (JSON may not follow), and is cached', async () => {
    await start();
    const pages = app.get(Pages);
    await pages.counter('a');
    await expect(pages.counter('a')).resolves.toEqual({ id: 'a', views: 10n ** 20n });
    expect(pages.loads).toEqual(['counter:a']);
  });
});

describe('where JSON follows (a controller handler behind CachedInterceptor)', () => {
  let http: INestApplication;
  beforeEach(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [CacheModule.register({ isGlobal: true, stores: [redisKeyv(namespace)] }), SingleFlightModule.forRoot({})],
      controllers: [PagesController],
    }).compile();
    http = moduleRef.createNestApplication({ logger: false });
    await http.init();
  });
  afterEach(() => http.close());

  it('an entry holding a BigInt is a miss and is replaced: 200s, never a 500 until it expires', async () => {
    await request(http.getHttpServer()).get('/pages/7').expect(200, { id: '7', total: 3 });
    await raw.set(await entryKey('PagesController.one'), asStored(`sf2||${devalue.stringify({ id: '7', total: 3n })}`));
    for (let i = 0; i < 5; i++) await request(http.getHttpServer()).get('/pages/7').expect(200, { id: '7', total: 3 });
    expect(http.get(PagesController).loads).toBe(2);
    expect(warnings.join('\n')).toMatch(/it holds a BigInt, which JSON cannot write/);
  });

  it('`@Cached({ json: false })` on a handler turns the check off: such an entry is a hit', async () => {
    await request(http.getHttpServer()).get('/pages/raw/7').expect(200, { id: '7', total: 3 });
    await raw.set(await entryKey('PagesController.raw'), asStored(`sf2||${devalue.stringify({ id: '7', total: 3n })}`));
    await request(http.getHttpServer()).get('/pages/raw/7'); // Nest itself cannot send it: this handler said JSON does not follow
    expect(http.get(PagesController).rawLoads).toBe(1);
  });
});

describe('where JSON follows a provider method (`json: true` on @Cached, or forRoot({ json: true }))', () => {
  it('an entry holding a BigInt is a miss and is replaced', async () => {
    await start();
    const pages = app.get(Pages);
    await pages.summary('a');
    await raw.set(await entryKey('Pages.summary'), asStored(`sf2||${devalue.stringify({ id: 'a', total: 3n })}`));
    await expect(pages.summary('a')).resolves.toEqual({ id: 'a', total: 3 });
    await expect(pages.summary('a')).resolves.toEqual({ id: 'a', total: 3 });
    expect(pages.loads).toEqual(['summary:a', 'summary:a']);
  });

  it('forRoot({ json: true }) makes it the default: a method returning a BigInt is not cached, with one warning', async () => {
    await start({ json: true });
    const pages = app.get(Pages);
    await pages.counter('a');
    await pages.counter('a');
    expect(pages.loads).toEqual(['counter:a', 'counter:a']);
    expect(warnings.filter((w) => /Pages\.counter returned a value the cache would refuse to read back \(it holds a BigInt, which JSON cannot write\)/.test(w))).toHaveLength(1);
  });
});

describe('signed entries (`secret`): write access to the store is not enough to feed the application data', () => {
  const secret = 'a secret of 32 characters, test!';

  it('entries the application signed are hits', async () => {
    await start({ secret });
    const pages = app.get(Pages);
    await pages.page('a');
    await expect(pages.page('a')).resolves.toMatchObject({ id: 'a', rows: [{ n: 1, at: new Date(Date.UTC(2026, 0, 1)) }, { n: 2 }, { n: 3 }] });
    expect(pages.loads).toEqual(['a']);
    expect(await storedText(await entryKey('"a"'))).toMatch(/^sf2s\|[A-Za-z0-9_-]{43}\|\|\[/);
  });

  it('a forged entry (unsigned, or signed with another secret, or its value changed) is a miss, and is replaced by a signed one', async () => {
    await start({ secret });
    const pages = app.get(Pages);
    await pages.page('a');
    const key = await entryKey('"a"');
    const genuine = await storedText(key);
    const forgedValue = devalue.stringify({ id: 'a', rows: [], note: 'forged' });
    const forgeries = [
      `sf2||${forgedValue}`, // unsigned, in the unsigned format
      `sf2s|${genuine.split('|')[1]}||${forgedValue}`, // a genuine signature over other content
      `sf2s|${'A'.repeat(43)}||${forgedValue}`, // a made-up signature
      genuine.replace('"rows"', '"rowz"'), // the value changed under its signature
      genuine.replace('||', '|x|'), // the tokens changed under it
    ];
    for (const forged of forgeries) {
      await raw.set(key, asStored(forged));
      await expect(pages.page('a')).resolves.toMatchObject({ id: 'a', rows: [{ n: 1 }, { n: 2 }, { n: 3 }] });
      expect(await storedText(key)).toMatch(/^sf2s\|/);
    }
    expect(pages.loads).toHaveLength(1 + forgeries.length);
  });

  it('a genuine entry copied under another key (another user\'s, another tenant\'s) is a miss: the key is signed too', async () => {
    await start({ secret });
    const pages = app.get(Pages);
    await pages.page('alice');
    await pages.page('bob');
    await raw.set(await entryKey('"bob"'), (await raw.get(await entryKey('"alice"')))!);
    await expect(pages.page('bob')).resolves.toMatchObject({ id: 'bob' });
    expect(pages.loads).toEqual(['alice', 'bob', 'bob']);
  });

  it('rotation: entries signed with the previous secret verify while it is listed second; new ones are signed with the first', async () => {
    await start({ secret });
    await app.get(Pages).page('a');
    await app.close();
    await start({ secret: ['the next secret, 32 characters!!', secret] });
    await app.get(Pages).page('a');
    expect(app.get(Pages).loads).toEqual([]); // a hit: verified with the old secret
    await app.close();
    await start({ secret: 'the next secret, 32 characters!!' });
    await app.get(Pages).page('a');
    expect(app.get(Pages).loads).toEqual(['a']); // the old secret is gone: a miss
  });

  it('a secret shorter than 16 bytes fails at start, without showing it', async () => {
    const attempt = createTestApp([Pages], { options: { secret: 'short-secret' } });
    await expect(attempt).rejects.toThrow(SingleFlightConfigError);
    await expect(createTestApp([Pages], { options: { secret: 'short-secret' } })).rejects.toThrow(/option "secret" must be a string or Buffer of at least 16 bytes .*, got string of 12 bytes$/);
    await expect(createTestApp([Pages], { options: { secret: 'short-secret' } })).rejects.not.toThrow(/short-secret/);
  });
});
