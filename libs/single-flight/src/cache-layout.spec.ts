import type { Logger } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { CacheLayout } from './cache-layout.js';
import type { StoreLike } from './guarded-store.js';

/** One tier: a map, recording the calls made to it. */
class Tier implements StoreLike {
  readonly data: Map<string, unknown>;
  readonly calls: string[] = [];
  failReads = false;
  constructor(
    entries: Record<string, unknown> = {},
    readonly withSetMany = true,
  ) {
    this.data = new Map(Object.entries(entries));
    if (!withSetMany) this.setMany = undefined;
  }
  async getMany(keys: string[]): Promise<unknown[]> {
    this.calls.push(`getMany ${keys.join(' ')}`);
    if (this.failReads) throw new Error('ECONNREFUSED');
    return keys.map((k) => this.data.get(k));
  }
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    this.calls.push(`set ${key}=${value} ttl=${ttl}`);
    this.data.set(key, value);
    return true;
  }
  setMany? = async (entries: { key: string; value: unknown; ttl?: number }[]): Promise<boolean[]> => {
    this.calls.push(`setMany ${entries.map((e) => `${e.key}=${e.value} ttl=${e.ttl}`).join(' ')}`);
    for (const e of entries) this.data.set(e.key, e.value);
    return entries.map(() => true);
  };
}

/** Takes whatever entry the front tier has (the entry format is cache-entry.ts's business). */
const anyEntry = () => true;

const logger = { warn: () => undefined, log: () => undefined, error: () => undefined } as unknown as Logger;
const options = { timeout: 1_000, circuitBreaker: { failureThreshold: 5, resetTimeout: 1_000 } } as const;

/** A CACHE_MANAGER over `stores` (memory in front, the shared store last), recording its own `set` calls. */
function cacheOver(stores: Tier[]) {
  const sets: string[] = [];
  const cache = {
    stores,
    set: async (key: string, value: string, ttl?: number) => {
      sets.push(`${key}=${value} ttl=${ttl}`);
      for (const store of stores) await store.set(key, value, ttl);
      return value;
    },
    mget: async () => {
      throw new Error('the layout reads the tiers itself');
    },
  };
  return { cache: cache as unknown as Cache, sets };
}

describe('CacheLayout with tiers (stores: [memory, shared])', () => {
  it('an entry found in the front tier is taken from it; its tags\' tokens are read from the shared (last) store only, never from the front', async () => {
    const front = new Tier({ k: 'entry in front', 't:a': 'stale token in front' });
    const shared = new Tier({ k: 'entry in shared', 't:a': 'token-a', 't:b': 'token-b' });
    const layout = new CacheLayout(cacheOver([front, shared]).cache, options, logger);
    await expect(layout.read('k', ['t:a', 't:b'], anyEntry)).resolves.toEqual({ entry: 'entry in front', tokens: ['token-a', 'token-b'] });
    expect(front.calls).toEqual(['getMany k']);
    expect(shared.calls).toEqual(['getMany t:a t:b']);
  });

  it('an entry missing from the front tier is read from the shared store together with its tokens, in one round trip', async () => {
    const front = new Tier({ 't:a': 'stale token in front' });
    const shared = new Tier({ k: 'entry in shared', 't:a': 'token-a' });
    const layout = new CacheLayout(cacheOver([front, shared]).cache, options, logger);
    await expect(layout.read('k', ['t:a'], anyEntry)).resolves.toEqual({ entry: 'entry in shared', tokens: ['token-a'] });
    expect(front.calls).toEqual(['getMany k']);
    expect(shared.calls).toEqual(['getMany k t:a']);
  });

  it('an untagged entry found in the front tier costs no read of the shared store', async () => {
    const front = new Tier({ k: 'entry in front' });
    const shared = new Tier();
    const layout = new CacheLayout(cacheOver([front, shared]).cache, options, logger);
    await expect(layout.read('k', [], anyEntry)).resolves.toEqual({ entry: 'entry in front', tokens: [] });
    expect(shared.calls).toEqual([]);
  });

  it('an entry in front whose tokens cannot be read (the shared store failed) is not trusted: the read is undefined', async () => {
    const front = new Tier({ k: 'entry in front', 't:a': 'token in front' });
    const shared = new Tier({ 't:a': 'token-a' });
    shared.failReads = true;
    const layout = new CacheLayout(cacheOver([front, shared]).cache, options, logger);
    await expect(layout.read('k', ['t:a'], anyEntry)).resolves.toBeUndefined();
  });

  it('a front tier that fails is passed over: the entry and tokens come from the shared store', async () => {
    const front = new Tier({ k: 'entry in front' });
    front.failReads = true;
    const shared = new Tier({ k: 'entry in shared', 't:a': 'token-a' });
    const layout = new CacheLayout(cacheOver([front, shared]).cache, options, logger);
    await expect(layout.read('k', ['t:a'], anyEntry)).resolves.toEqual({ entry: 'entry in shared', tokens: ['token-a'] });
  });

  it('readTokens reads the shared store only', async () => {
    const front = new Tier({ 't:a': 'stale token in front' });
    const shared = new Tier({ 't:a': 'token-a' });
    const layout = new CacheLayout(cacheOver([front, shared]).cache, options, logger);
    await expect(layout.readTokens(['t:a', 't:b'])).resolves.toEqual(['token-a', undefined]);
    expect(front.calls).toEqual([]);
    expect(shared.calls).toEqual(['getMany t:a t:b']);
  });

  it('tag tokens are written to the shared store only, with their ttl (one setMany)', async () => {
    const front = new Tier();
    const shared = new Tier();
    const { cache, sets } = cacheOver([front, shared]);
    const layout = new CacheLayout(cache, options, logger);
    await expect(layout.writeTokens([{ key: 't:a', value: 'token-1' }, { key: 't:b', value: 'token-2' }], 3_600_000)).resolves.toBe(true);
    expect(shared.calls).toEqual(['setMany t:a=token-1 ttl=3600000 t:b=token-2 ttl=3600000']);
    expect(front.calls).toEqual([]);
    expect(sets).toEqual([]); // not through cache-manager, which would write every tier
  });

  it('tag tokens go to a shared store without setMany one set each, still to it only', async () => {
    const front = new Tier();
    const shared = new Tier({}, false);
    const layout = new CacheLayout(cacheOver([front, shared]).cache, options, logger);
    await expect(layout.writeTokens([{ key: 't:a', value: 'token-1' }, { key: 't:b', value: 'token-2' }], 0)).resolves.toBe(true);
    expect(shared.calls).toEqual(['set t:a=token-1 ttl=0', 'set t:b=token-2 ttl=0']);
    expect(front.calls).toEqual([]);
  });

  it('entries with a ttl are written to every tier by the library, each write judged on its own', async () => {
    const front = new Tier();
    const shared = new Tier();
    const { cache, sets } = cacheOver([front, shared]);
    const layout = new CacheLayout(cache, options, logger);
    await expect(layout.writeEntry('k', 'sf2|tok|v', 60_000)).resolves.toBe(true);
    expect(sets).toEqual([]);
    expect(front.calls).toEqual(['set k=sf2|tok|v ttl=60000']);
    expect(shared.calls).toEqual(['set k=sf2|tok|v ttl=60000']);
  });

  it('a write the shared store does not take (Keyv answers false) is a failure charged to its breaker', async () => {
    const shared = new Tier();
    shared.set = async () => false;
    const layout = new CacheLayout(cacheOver([new Tier(), shared]).cache, options, logger);
    await expect(layout.writeEntry('k', 'v', 60_000)).resolves.toBe(false);
    expect(layout.sharedBreaker!.failures).toBe(1);
  });

  it('entries without a ttl of the library go through cache-manager, which applies its own default', async () => {
    const { cache, sets } = cacheOver([new Tier(), new Tier()]);
    await expect(new CacheLayout(cache, options, logger).writeEntry('k', 'v', undefined)).resolves.toBe(true);
    expect(sets).toEqual(['k=v ttl=undefined']);
  });

  it('the shared breaker is the last store\'s: a failing front tier does not count against it', async () => {
    const front = new Tier({ k: 'entry' });
    front.failReads = true;
    const shared = new Tier({ k: 'entry' });
    const layout = new CacheLayout(cacheOver([front, shared]).cache, options, logger);
    await layout.read('k', [], anyEntry);
    expect(layout.sharedBreaker!.failures).toBe(0);
    shared.failReads = true;
    await layout.read('k', [], anyEntry);
    expect(layout.sharedBreaker!.failures).toBe(1);
  });

  it('passes over a front-tier entry that is no longer current for the shared one, which another process may have refreshed', async () => {
    const front = new Tier({ k: 'old entry' });
    const shared = new Tier({ k: 'fresh entry', 't:a': 'token-2' });
    const layout = new CacheLayout(cacheOver([front, shared]).cache, options, logger);
    const isCurrent = (entry: unknown) => entry === 'fresh entry';
    await expect(layout.read('k', ['t:a'], isCurrent)).resolves.toEqual({ entry: 'fresh entry', tokens: ['token-2'] });
    expect(shared.calls).toEqual(['getMany t:a', 'getMany k']);
  });
});
