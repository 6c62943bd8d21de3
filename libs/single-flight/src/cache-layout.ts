import type { Logger } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { GuardedStore, type GuardOptions, type StoreEvents, type StoreLike } from './guarded-store.js';

/** What a read finds: the entry (from the first tier that has it) and the tags' tokens (from the shared tier). */
export interface StoredRead {
  entry: unknown;
  tokens: unknown[];
}

/**
 * The stores behind CACHE_MANAGER as the library uses them. Entries are read through the tiers in
 * order, as cache-manager does, and written through cache-manager (every tier, its default ttl).
 * Tag tokens are read from and written to the shared tier only (the last store): a tier in front
 * of it (`stores: [memory, redis]`) is private to one process, and a token there would hide
 * another process's invalidation.
 */
export class CacheLayout {
  private readonly front: GuardedStore[];
  private readonly shared: GuardedStore;

  constructor(
    private readonly cache: Cache,
    options: GuardOptions,
    logger: Logger,
    events?: StoreEvents,
  ) {
    const stores: StoreLike[] = cache.stores?.length ? (cache.stores as unknown as StoreLike[]) : [cacheAsStore(cache)];
    // Named in logs by its Keyv namespace, else by its place among the tiers.
    const label = (store: StoreLike, i: number) => (store.namespace ? `"${store.namespace}"` : stores.length > 1 ? `#${i + 1} of ${stores.length}` : 'CACHE_MANAGER');
    const guarded = stores.map((store, i) => new GuardedStore(store, label(store, i), options, logger, events));
    this.shared = guarded.at(-1)!;
    this.front = guarded.slice(0, -1);
  }

  /** The Keyv namespaces of the stores, for the start-up check against the key prefix. */
  get namespaces(): string[] {
    return [...this.front, this.shared].map((s) => s.store.namespace).filter((ns): ns is string => typeof ns === 'string' && ns.length > 0);
  }

  /** Since when (Date.now) the shared tier's circuit has been open; undefined while it is closed. */
  get sharedOpenSince(): number | undefined {
    return this.shared.breaker?.openSince;
  }

  /** The shared tier's breaker, for tests and diagnostics. */
  get sharedBreaker() {
    return this.shared.breaker;
  }

  /**
   * `undefined` when the tokens could not be read: nothing found can then be trusted. An entry in
   * a front tier that `isFresh` rejects (evicted or stale since) is passed over for the shared
   * tier's, which another process may have refreshed: one more round trip, only then.
   */
  read(key: string, tokenKeys: readonly string[], isFresh: (entry: unknown, tokens: unknown[]) => boolean): Promise<StoredRead | undefined> {
    if (this.front.length > 0) return this.readTiers(key, tokenKeys, isFresh);
    return this.shared.getMany([key, ...tokenKeys]).then((values) => values && { entry: values[0], tokens: values.slice(1) });
  }

  private async readTiers(key: string, tokenKeys: readonly string[], isFresh: (entry: unknown, tokens: unknown[]) => boolean): Promise<StoredRead | undefined> {
    for (const tier of this.front) {
      const entry = (await tier.getMany([key]))?.[0];
      if (entry === undefined) continue;
      if (tokenKeys.length === 0) return { entry, tokens: [] };
      const tokens = await this.shared.getMany([...tokenKeys]);
      if (!tokens) return undefined;
      if (isFresh(entry, tokens)) return { entry, tokens };
      const shared = await this.shared.getMany([key]);
      return shared && { entry: shared[0], tokens };
    }
    const values = await this.shared.getMany([key, ...tokenKeys]);
    return values && { entry: values[0], tokens: values.slice(1) };
  }

  readTokens(tokenKeys: readonly string[]): Promise<unknown[] | undefined> {
    return this.shared.getMany([...tokenKeys]);
  }

  /**
   * Every tier, each write guarded on its own. Without a ttl of the library's (none on @Cached or
   * forRoot) it goes through cache-manager instead, whose default ttl only it knows; Keyv then
   * swallows a store's failure, so such a write is only seen to fail when it throws or hangs.
   */
  async writeEntry(key: string, value: string, ttl: number | undefined): Promise<boolean> {
    if (ttl === undefined) return this.shared.write('write', () => this.cache.set(key, value));
    const written = await Promise.all([...this.front, this.shared].map((tier) => tier.write('write', () => tier.store.set(key, value, ttl))));
    return written.at(-1)!;
  }

  /** The shared tier only, even while its circuit is open; `ttl` 0: no expiry. */
  writeTokens(tokens: { key: string; value: string }[], ttl: number): Promise<boolean> {
    const { store } = this.shared;
    const entries = tokens.map(({ key, value }) => ({ key, value, ttl }));
    return this.shared.write('invalidation', () => (store.setMany ? store.setMany(entries) : Promise.all(entries.map((e) => store.set(e.key, e.value, e.ttl)))), true);
  }
}

/** A CACHE_MANAGER without Keyv stores (a custom one): used as one store. */
const cacheAsStore = (cache: Cache): StoreLike => ({
  getMany: (keys) => cache.mget(keys),
  set: async (key, value, ttl) => (await cache.set(key, value, ttl), true),
});
