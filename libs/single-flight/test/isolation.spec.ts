import { jest } from '@jest/globals';
import { CacheModule } from '@nestjs/cache-manager';
import { Inject, Injectable, Logger, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ClsModule, ClsService } from 'nestjs-cls';
import { CacheEvict, CacheKeyError, Cached, SingleFlight, SingleFlightConfigError, SingleFlightModule } from '@app/single-flight';
import { latch, settle, type Latch } from './support/latch.js';
import { createTestApp } from './support/test-app.js';

// Nobody gets data that belongs to another key, class, instance or tenant.

/** Two classes named ItemsService, as two modules of a monorepo would have them. */
function itemsService(source: string) {
  @Injectable()
  class ItemsService {
    loads = 0;
    @Cached()
    @SingleFlight()
    async find(id: number) {
      this.loads++;
      return `${source}:${id}`;
    }
  }
  return ItemsService;
}

describe('two classes with the same name', () => {
  it('fail the start, naming both modules and how to tell them apart', async () => {
    const CatalogItems = itemsService('catalog');
    const OrderItems = itemsService('orders');
    @Module({ providers: [CatalogItems] })
    class CatalogModule {}
    @Module({ providers: [OrderItems] })
    class OrdersModule {}
    const start = Test.createTestingModule({ imports: [CacheModule.register({ isGlobal: true }), SingleFlightModule.forRoot({}), CatalogModule, OrdersModule] })
      .compile()
      .then((app) => app.init());
    await expect(start).rejects.toThrow(SingleFlightConfigError);
    await expect(start).rejects.toThrow(/Two different classes named ItemsService \(in CatalogModule and OrdersModule\) both key find\(\) as "ItemsService\.find".*namespace/);
  });

  it('that only evict make no keys, and start', async () => {
    const writer = () => {
      @Injectable()
      class ItemsWriter {
        @CacheEvict({ tags: ['items'] })
        async save() {
          return 1;
        }
      }
      return ItemsWriter;
    };
    const [CatalogWriter, OrdersWriter] = [writer(), writer()];
    const app = await createTestApp([CatalogWriter, OrdersWriter]);
    await expect(app.get(CatalogWriter).save()).resolves.toBe(1);
    await app.close();
  });

  it('with a namespace, keep their entries apart', async () => {
    const CatalogItems = itemsService('catalog');
    @Injectable()
    class ItemsService {
      @Cached({ namespace: 'OrderItems' })
      @SingleFlight()
      async find(id: number) {
        return `orders:${id}`;
      }
    }
    const app = await createTestApp([CatalogItems, ItemsService]);
    expect(await app.get(CatalogItems).find(1)).toBe('catalog:1');
    expect(await app.get(ItemsService).find(1)).toBe('orders:1');
    expect(await app.get(CatalogItems).find(1)).toBe('catalog:1');
    await app.close();
  });
});

class ApiClient {
  calls: string[] = [];
  constructor(readonly region: string) {}

  @Cached({
    key(this: ApiClient, id: string) {
      return [this.region, id];
    },
    tags(this: ApiClient, id: string) {
      return [`${this.region}:item:${id}`];
    },
  })
  @SingleFlight()
  async fetch(id: string) {
    this.calls.push(id);
    return `${this.region}:${id}:${this.calls.length}`;
  }

  @CacheEvict({
    tags(this: ApiClient, _: void, id: string) {
      return [`${this.region}:item:${id}`];
    },
  })
  async touch(id: string): Promise<void> {
    void id;
  }
}

describe('two instances of one class, made by different factories', () => {
  it('are kept apart by key and tag functions that read the instance (this)', async () => {
    const app = await createTestApp([
      { provide: 'US', useFactory: () => new ApiClient('us') },
      { provide: 'EU', useFactory: () => new ApiClient('eu') },
    ]);
    const [us, eu] = [app.get<ApiClient>('US'), app.get<ApiClient>('EU')];
    expect(await us.fetch('1')).toBe('us:1:1');
    expect(await eu.fetch('1')).toBe('eu:1:1');
    expect(await us.fetch('1')).toBe('us:1:1');
    await eu.touch('1'); // evicts eu:item:1 only
    expect(await eu.fetch('1')).toBe('eu:1:2');
    expect(await us.fetch('1')).toBe('us:1:1');
    await app.close();
  });

  it('without a key function, share entries: the start warns, naming the providers', async () => {
    class Plain {
      constructor(readonly base: string) {}
      @Cached()
      async get(id: string) {
        return `${this.base}/${id}`;
      }
    }
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const app = await createTestApp([
        { provide: 'A', useFactory: () => new Plain('a') },
        { provide: 'B', useFactory: () => new Plain('b') },
      ]);
      expect(warn.mock.calls.flat().join('\n')).toMatch(/Plain is provided 2 times \(A, B\): their get\(\) share cache entries/);
      await app.close();
    } finally {
      warn.mockRestore();
    }
  });
});

class Money {
  #cents: number;
  constructor(cents: number) {
    this.#cents = cents;
  }
  get cents() {
    return this.#cents;
  }
}

class Decimalish {
  constructor(private readonly digits: string) {}
  toJSON() {
    return this.digits;
  }
}

@Injectable()
class Lookups {
  loads: unknown[] = [];
  @Cached()
  @SingleFlight()
  async find(material: unknown) {
    this.loads.push(material);
    return this.loads.length;
  }
}

describe('key material the canonical form cannot see into', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let lookups: Lookups;
  beforeEach(async () => {
    app = await createTestApp([Lookups]);
    lookups = app.get(Lookups);
  });
  afterEach(() => app.close());

  it.each([
    ['URLs, by their href', new URL('https://us.example.com/a?x=1'), new URL('https://eu.example.com/a?x=1')],
    ['URLSearchParams, by their text', new URLSearchParams('a=1'), new URLSearchParams('a=2')],
    ['ArrayBuffers, by their bytes', new Uint8Array([1, 2]).buffer, new Uint8Array([1, 3]).buffer],
    ['typed arrays, by their type and bytes', new Uint8Array([1, 0]), new Uint16Array([1])],
    ['boxed primitives, by their value', new Number(1), new Number(2)],
    ['instances that define toJSON, by what it returns', new Decimalish('1.50'), new Decimalish('2.50')],
  ])('%s: different values, different entries; equal values, one', async (_, one, other) => {
    const [a, b] = [await lookups.find(one), await lookups.find(other)];
    expect(a).not.toBe(b);
    expect(await lookups.find(one)).toBe(a);
    expect(lookups.loads).toHaveLength(2);
  });

  it.each([
    ['an Error', new Error('boom'), /Lookups\.find: cannot derive a cache key from this argument: Error keeps its state in internal slots/],
    ['an instance with #private fields', new Money(100), /Lookups\.find: cannot derive a cache key from this argument: Money keeps state in #private fields/],
    ['an object with symbol keys', { [Symbol('id')]: 1 }, /symbol keys/],
    ['a Promise', Promise.resolve(1), /internal slots of Promise/],
  ])('%s is refused with an error asking for a key function, never keyed as {}', async (_, material, message) => {
    await expect(lookups.find(material)).rejects.toThrow(CacheKeyError);
    await expect(lookups.find(material)).rejects.toThrow(message);
    await expect(lookups.find(material)).rejects.toThrow(/give the decorator a `key` function/);
    expect(lookups.loads).toHaveLength(0);
  });
});

let gate: Latch | undefined;

@Injectable()
class Reports {
  loads: string[] = [];
  constructor(@Inject(ClsService) private readonly cls: ClsService) {}

  /** Depends on the tenant, which it takes from the request context, not from an argument. */
  @Cached()
  @SingleFlight()
  async summary() {
    const tenant = this.cls.get<string>('tenant');
    this.loads.push(tenant);
    await gate?.promise;
    return { tenant };
  }
}

describe('forRoot({ vary }): tenants and request context', () => {
  const startWithTenants = () =>
    Test.createTestingModule({
      imports: [
        ClsModule.forRoot({ global: true }),
        CacheModule.register({ isGlobal: true }),
        SingleFlightModule.forRootAsync({ inject: [ClsService], useFactory: (cls: ClsService) => ({ vary: () => cls.get('tenant') }) }),
      ],
      providers: [Reports],
    })
      .compile()
      .then((app) => app.init());
  const as = <T>(cls: ClsService, tenant: string, work: () => Promise<T>) =>
    cls.run(() => {
      cls.set('tenant', tenant);
      return work();
    });

  it("never serves one tenant's entry to another, and never lets one join another's flight", async () => {
    const app = await startWithTenants();
    const [reports, cls] = [app.get(Reports), app.get(ClsService)];
    gate = latch();
    const acme = Array.from({ length: 5 }, () => as(cls, 'acme', () => reports.summary()));
    const globex = Array.from({ length: 5 }, () => as(cls, 'globex', () => reports.summary()));
    await settle();
    expect(reports.loads).toEqual(['acme', 'globex']); // one flight per tenant, none shared
    gate.release();
    gate = undefined;
    expect(await Promise.all(acme)).toEqual(Array(5).fill({ tenant: 'acme' }));
    expect(await Promise.all(globex)).toEqual(Array(5).fill({ tenant: 'globex' }));
    // Cached per tenant.
    expect(await as(cls, 'globex', () => reports.summary())).toEqual({ tenant: 'globex' });
    expect(await as(cls, 'acme', () => reports.summary())).toEqual({ tenant: 'acme' });
    expect(reports.loads).toEqual(['acme', 'globex']);
    await app.close();
  });
});
