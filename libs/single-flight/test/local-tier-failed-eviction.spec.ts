import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { Keyv } from 'keyv';
import { CacheEvict, Cached, SingleFlight } from '@app/single-flight';
import { latch, settle, until } from './support/latch.js';
import { createTestApp } from './support/test-app.js';

let version = 0;

@Injectable()
class Items {
  @Cached({ ttl: 60_000, tags: ['items'] })
  @SingleFlight()
  async get() {
    return { version };
  }

  @CacheEvict({ tags: ['items'] })
  async update() {
    return ++version;
  }
}

// A read that starts while an eviction's token write is out finds the old tokens; if the store
// then refuses the write, the eviction is queued (rule 3) and what that read found must not stay
// in the local tier.
describe('local tier and an eviction the store did not take', () => {
  let app: TestingModule;
  afterEach(() => app?.close());

  it('a value read while the failing token write was out is not served after @CacheEvict resolved', async () => {
    const keyv = new Keyv();
    const held = latch<boolean>();
    let tokenWrites = 0;
    const setMany = keyv.setMany.bind(keyv);
    keyv.setMany = (async (entries: { key: string; value: unknown; ttl?: number }[]) => {
      if (entries.some((e) => e.key.includes('#tag:')) && tokenWrites++ === 1) return (await held.promise) ? setMany(entries) : entries.map(() => false);
      return setMany(entries);
    }) as typeof keyv.setMany;
    app = await createTestApp([Items], { stores: [keyv], options: { local: { max: 100 }, storeTimeout: 5_000, circuitBreaker: { failureThreshold: 100 } } });
    const items = app.get(Items);
    expect(await items.get()).toEqual({ version: 0 });
    const evicted = items.update();
    await until(() => tokenWrites === 2);
    // Started while the write is out: it may get the old value, which it reads from the store.
    expect(await items.get()).toEqual({ version: 0 });
    held.release(false);
    await evicted;
    await settle();
    expect(await items.get()).toEqual({ version: 1 });
  });
});
