import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { Cache } from 'cache-manager';
import type { Keyv } from 'keyv';
import { randomUUID } from 'node:crypto';
import { types } from 'node:util';
import { Cached, SingleFlight } from '@app/single-flight';
import { captureWarnings, warningsNaming } from './support/captured-logs.js';
import { countCalls } from './support/count-calls.js';
import { latch, settle, type Latch } from './support/latch.js';
import { createTestApp } from './support/test-app.js';
import { trackedRedisKeyv } from './support/tracked-redis.js';

/**
 * What callers get back: never one object shared by two callers outside freeze mode (10), nothing
 * a frozen value's holder can change for the next (11), and values with the types they were
 * returned with, or not cached at all, never `{}` (12). Memory store and the real Redis.
 */

const warnings = captureWarnings();

/** A store backend for one test: the application's stores, and what to delete afterwards. */
interface Backend {
  stores?: Keyv[];
  cleanup(): Promise<void>;
}

const backends: [string, () => Backend][] = [
  ['memory store', () => ({ cleanup: async () => undefined })],
  [
    'real Redis',
    () => {
      const { keyv, cleanup } = trackedRedisKeyv(`sf-values-${randomUUID()}`);
      return { stores: [keyv], cleanup };
    },
  ],
];

/** Entry writes (Keyv `set` calls) to the application's cache store. */
const countEntryWrites = (app: TestingModule): { set: number } => countCalls(app.get<Cache>(CACHE_MANAGER).stores.at(-1)!, ['set']);

/** A loader that counts its calls and can be held behind a latch. */
class Gate {
  calls = 0;
  latch: Latch | undefined;
  async pass(): Promise<void> {
    this.calls++;
    await this.latch?.promise;
  }
}

// ---------------------------------------------------------------------------------------------
// 10. Outside freeze mode, no two callers ever hold the same object.

/** An enumerable symbol key: devalue cannot write it, and dropping it would change the value. */
const INTERNAL = Symbol('internal');
type Tagged = { id: number; [INTERNAL]: string };

@Injectable()
class Lookups {
  gate = new Gate();

  @Cached()
  @SingleFlight()
  async cachedWithSymbolKey(id: number): Promise<Tagged> {
    await this.gate.pass();
    return { id, [INTERNAL]: 'kept' };
  }

  @SingleFlight()
  async flightWithSymbolKey(id: number): Promise<Tagged> {
    await this.gate.pass();
    return { id, [INTERNAL]: 'kept' };
  }
}

describe('10. outside freeze mode, no two callers ever hold the same object', () => {
  let app: TestingModule;
  let service: Lookups;
  let writes: { set: number };
  beforeEach(async () => {
    app = await createTestApp([Lookups]);
    service = app.get(Lookups);
    writes = countEntryWrites(app);
  });
  afterEach(() => app.close());

  it.each([['cachedWithSymbolKey'], ['flightWithSymbolKey']] as const)(
    '%s: a value the cache cannot encode is handed to the first caller of the flight only; every other caller runs the method itself, nothing is cached, and the method is named in one warning',
    async (method) => {
      const burst = async () => {
        const before = service.gate.calls;
        service.gate.latch = latch();
        const callers = Array.from({ length: 5 }, () => service[method](1));
        await settle();
        expect(service.gate.calls).toBe(before + 1); // one flight, held
        service.gate.latch.release();
        return Promise.all(callers);
      };

      const first = await burst();
      expect(new Set(first).size).toBe(5); // five callers, five objects
      expect(service.gate.calls).toBe(5); // the flight's load, and one per other caller
      for (const value of first) expect(value).toEqual({ id: 1, [INTERNAL]: 'kept' });

      const second = await burst(); // not cached: a new flight, served the same way
      expect(service.gate.calls).toBe(10);
      expect(new Set([...first, ...second]).size).toBe(10);
      expect(writes.set).toBe(0);

      const named = warningsNaming(warnings, `Lookups.${method}`);
      expect(named).toHaveLength(1);
      expect(named[0]).toMatch(/cannot represent faithfully.*symbol keys.*not cached/);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// 11. Freeze mode: a value handed to one caller cannot be changed for the next.

const CREATED_AT = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

interface Row {
  id: string;
  createdAt: Date;
  counters: Map<string, number>;
  labels: Set<string>;
}

@Injectable()
class FrozenRows {
  gate = new Gate();

  @Cached({ freeze: true, ttl: 60_000 })
  @SingleFlight()
  async row(id: string): Promise<Row> {
    await this.gate.pass();
    return { id, createdAt: new Date(CREATED_AT), counters: new Map([['views', 1]]), labels: new Set(['db']) };
  }

  @Cached({ freeze: true, ttl: 60_000 })
  @SingleFlight()
  async bytes(id: string): Promise<{ id: string; data: Uint8Array }> {
    await this.gate.pass();
    return { id, data: new Uint8Array([1, 2, 3]) };
  }

  @Cached({ freeze: true, ttl: 60_000 })
  @SingleFlight()
  async arrayBuffer(id: string): Promise<{ id: string; data: ArrayBuffer }> {
    await this.gate.pass();
    return { id, data: new Uint8Array([1, 2, 3]).buffer };
  }

  @Cached({ freeze: true, ttl: 60_000 })
  @SingleFlight()
  async url(id: string): Promise<{ id: string; link: URL }> {
    await this.gate.pass();
    return { id, link: new URL('https://status.example/incidents/1?tab=log') };
  }
}

/** How to change, and how to read, the part of a value that cannot be frozen. */
const unfreezable = {
  bytes: {
    change: (v: { data: Uint8Array }) => void (v.data[0] = 99),
    read: (v: { data: Uint8Array }) => (v.data instanceof Uint8Array ? [...v.data] : 'not a Uint8Array'),
    expected: [1, 2, 3],
  },
  arrayBuffer: {
    change: (v: { data: ArrayBuffer }) => void (new Uint8Array(v.data)[0] = 99),
    read: (v: { data: ArrayBuffer }) => (types.isArrayBuffer(v.data) ? [...new Uint8Array(v.data)] : 'not an ArrayBuffer'),
    expected: [1, 2, 3],
  },
  url: {
    change: (v: { link: URL }) => void (v.link.pathname = '/changed'),
    read: (v: { link: URL }) => (v.link instanceof URL ? v.link.href : 'not a URL'),
    expected: 'https://status.example/incidents/1?tab=log',
  },
} as const;

describe.each(backends)('11. freeze mode: a value handed to one caller cannot be changed for the next (%s)', (_, backend) => {
  let app: TestingModule;
  let service: FrozenRows;
  let stores: Backend;
  beforeEach(async () => {
    stores = backend();
    app = await createTestApp([FrozenRows], { stores: stores.stores });
    service = app.get(FrozenRows);
  });
  afterEach(async () => {
    await app.close();
    await stores.cleanup();
  });

  it('the Dates, Maps and Sets of a frozen value are read-only (their mutators throw TypeError, util.types still recognise them), so concurrent callers and later hits see it unchanged', async () => {
    service.gate.latch = latch();
    const callers = [service.row('a'), service.row('a'), service.row('a')];
    await settle();
    service.gate.latch.release();
    const [first, ...others] = await Promise.all(callers);

    expect(types.isDate(first.createdAt) && first.createdAt instanceof Date).toBe(true);
    expect(types.isMap(first.counters) && first.counters instanceof Map).toBe(true);
    expect(types.isSet(first.labels) && first.labels instanceof Set).toBe(true);
    expect(() => first.createdAt.setFullYear(1999)).toThrow(TypeError);
    expect(() => first.createdAt.setTime(0)).toThrow(TypeError);
    expect(() => first.createdAt.setUTCHours(0)).toThrow(TypeError);
    expect(() => first.counters.set('views', 1_000)).toThrow(TypeError);
    expect(() => first.counters.delete('views')).toThrow(TypeError);
    expect(() => first.counters.clear()).toThrow(TypeError);
    expect(() => first.labels.add('p1')).toThrow(TypeError);
    expect(() => first.labels.delete('db')).toThrow(TypeError);
    expect(() => first.labels.clear()).toThrow(TypeError);
    // Reading still works as on any Date, Map and Set.
    expect(first.createdAt.toISOString()).toBe('2026-01-02T03:04:05.678Z');
    expect(first.counters.get('views')).toBe(1);
    expect(first.labels.has('db')).toBe(true);

    const hit = await service.row('a');
    expect(service.gate.calls).toBe(1);
    for (const value of [...others, hit]) {
      expect(value.createdAt.getTime()).toBe(CREATED_AT);
      expect([...value.counters]).toEqual([['views', 1]]);
      expect([...value.labels]).toEqual(['db']);
    }
  });

  it.each([
    ['bytes', 'a typed array'],
    ['arrayBuffer', 'an ArrayBuffer'],
    ['url', 'a URL'],
  ] as const)(
    '%s: a value holding %s is handed out as per-caller copies instead (one warning naming the method): no caller can change another caller\'s or a later hit\'s',
    async (method, _what) => {
      const { change, read, expected } = unfreezable[method] as { change(v: unknown): void; read(v: unknown): unknown; expected: unknown };
      const call = () => (service[method] as (id: string) => Promise<unknown>).call(service, 'a');
      service.gate.latch = latch();
      const callers = [call(), call(), call()];
      await settle();
      service.gate.latch.release();
      const results = await Promise.all(callers);

      expect(new Set(results).size).toBe(3);
      for (const value of results) expect(read(value)).toEqual(expected);
      change(results[0]);
      expect(read(results[1])).toEqual(expected);
      expect(read(results[2])).toEqual(expected);

      const hit = await call();
      expect(service.gate.calls).toBe(1); // cached all the same
      expect(read(hit)).toEqual(expected);
      change(hit);
      expect(read(await call())).toEqual(expected);

      const named = warningsNaming(warnings, `FrozenRows.${method}`);
      expect(named).toHaveLength(1);
      expect(named[0]).toMatch(/freeze is on.*cannot be frozen.*copies/);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// 12. Values devalue cannot represent faithfully: round-tripped, or not cached with a warning.

/** Values devalue alone would not bring back as they were, each with the check that it did come back. */
const samples = {
  URL: {
    make: () => new URL('https://status.example/incidents/7?tab=log#top'),
    isIntact: (v: unknown) => v instanceof URL && v.href === 'https://status.example/incidents/7?tab=log#top',
  },
  URLSearchParams: {
    make: () => new URLSearchParams('tag=db&tag=p1&q=a+b'),
    isIntact: (v: unknown) => v instanceof URLSearchParams && v.getAll('tag').join() === 'db,p1' && v.get('q') === 'a b',
  },
  'a boxed number': { make: () => new Number(42), isIntact: (v: unknown) => types.isNumberObject(v) && v.valueOf() === 42 },
  'a boxed string': { make: () => new String('outage'), isIntact: (v: unknown) => types.isStringObject(v) && v.valueOf() === 'outage' },
  'a boxed boolean': { make: () => new Boolean(false), isIntact: (v: unknown) => types.isBooleanObject(v) && v.valueOf() === false },
  'a boxed bigint': { make: () => Object(10n ** 20n), isIntact: (v: unknown) => types.isBigIntObject(v) && v.valueOf() === 10n ** 20n },
  Buffer: { make: () => Buffer.from('héllo, wörld'), isIntact: (v: unknown) => Buffer.isBuffer(v) && v.toString('utf8') === 'héllo, wörld' },
  'an empty Buffer': { make: () => Buffer.alloc(0), isIntact: (v: unknown) => Buffer.isBuffer(v) && v.length === 0 },
};
type Sample = keyof typeof samples;

/** State in #private fields: invisible to Object.keys, so a copy would lose it. */
class Credentials {
  #token: string;
  constructor(
    public id: string,
    token: string,
  ) {
    this.#token = token;
  }
  get token() {
    return this.#token;
  }
}

/** Data only toJSON() knows: its fields are not its data. */
class Money {
  constructor(private readonly cents: number) {}
  toJSON() {
    return { amount: (this.cents / 100).toFixed(2), currency: 'EUR' };
  }
}

@Injectable()
class Values {
  gate = new Gate();

  @Cached()
  @SingleFlight()
  async sample(kind: Sample): Promise<{ kind: Sample; value: unknown }> {
    await this.gate.pass();
    return { kind, value: samples[kind].make() };
  }

  @Cached()
  @SingleFlight()
  async failure(id: string): Promise<{ id: string; error: Error }> {
    await this.gate.pass();
    return { id, error: new RangeError('disk full') };
  }

  @Cached()
  @SingleFlight()
  async credentials(id: string): Promise<Credentials> {
    await this.gate.pass();
    return new Credentials(id, 's3cret');
  }

  @Cached()
  @SingleFlight()
  async invoice(id: string): Promise<{ id: string; total: Money }> {
    await this.gate.pass();
    return { id, total: new Money(1999) };
  }
}

describe.each(backends)('12. values are cached with their types or not at all, never turned into {} (%s)', (_, backend) => {
  let app: TestingModule;
  let service: Values;
  let stores: Backend;
  let writes: { set: number };
  beforeEach(async () => {
    stores = backend();
    app = await createTestApp([Values], { stores: stores.stores });
    service = app.get(Values);
    writes = countEntryWrites(app);
  });
  afterEach(async () => {
    await app.close();
    await stores.cleanup();
  });

  it.each(Object.keys(samples) as Sample[])(
    '%s round-trips with its type: on the miss, for every caller of the flight (each its own object) and on a hit',
    async (kind) => {
      service.gate.latch = latch();
      const callers = [service.sample(kind), service.sample(kind), service.sample(kind)];
      await settle();
      service.gate.latch.release();
      const miss = await Promise.all(callers);
      const hit = await service.sample(kind);
      expect(service.gate.calls).toBe(1);
      expect(writes.set).toBe(1);
      for (const { value } of [...miss, hit]) expect(samples[kind].isIntact(value)).toBe(true);
      expect(new Set([...miss, hit].map((v) => v.value)).size).toBe(4);
      expect(warningsNaming(warnings, 'Values.sample')).toEqual([]);
    },
  );

  it.each([
    ['failure', 'an Error', (v: any) => v.error instanceof RangeError && v.error.message === 'disk full'],
    ['credentials', 'a class instance with #private fields', (v: any) => v instanceof Credentials && v.token === 's3cret'],
    ['invoice', 'a class instance defining toJSON()', (v: any) => v.total instanceof Money && JSON.stringify(v.total) === '{"amount":"19.99","currency":"EUR"}'],
  ] as const)('%s: a value holding %s is not cached: every call loads and gets the value itself, and one warning names Class.method', async (method, _what, isIntact) => {
    const results: unknown[] = [];
    for (let i = 0; i < 3; i++) results.push(await service[method]('a'));
    expect(service.gate.calls).toBe(3);
    expect(writes.set).toBe(0);
    for (const value of results) expect(isIntact(value)).toBe(true);
    const named = warningsNaming(warnings, `Values.${method}`);
    expect(named).toHaveLength(1);
    expect(named[0]).toMatch(/^Values\.\w+ returned a value the cache cannot represent faithfully/);
  });
});
