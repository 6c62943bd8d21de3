import { LRUCache } from 'lru-cache';

export interface MemoryCacheLimits {
  readonly maxEntries: number;
  /** Characters of keys and values together (Keyv hands the store strings). */
  readonly maxCharacters: number;
}

/**
 * Bounds of the in-memory cache (no REDIS_URL). Every distinct query string is an entry, so
 * without a bound clients could grow the process without limit. 10,000 entries is far more than
 * the distinct reads the app serves within its longest ttl (60 s); 50 million characters is
 * about 50 MB of ASCII JSON: some 1,800 full 100-item pages, or 9,000 default 20-item ones.
 * Past either bound the least recently used entries go first.
 */
export const MEMORY_CACHE_LIMITS: MemoryCacheLimits = { maxEntries: 10_000, maxCharacters: 50_000_000 };

/**
 * The Map-like store behind the in-memory Keyv: an LRU within `limits`, whose entries are
 * dropped by a timer when their ttl ends, whether they are read again or not.
 */
export class BoundedMemoryStore {
  private readonly lru: LRUCache<string, string>;

  constructor(limits: MemoryCacheLimits = MEMORY_CACHE_LIMITS) {
    this.lru = new LRUCache<string, string>({
      max: limits.maxEntries,
      maxSize: limits.maxCharacters,
      sizeCalculation: (value, key) => key.length + value.length,
      ttlAutopurge: true,
    });
  }

  get(key: string): string | undefined {
    return this.lru.get(key);
  }

  /**
   * Keyv passes the ttl (ms) as a bare third argument; lru-cache takes an options object there,
   * and given a number its `set` throws, so every write would fail.
   */
  set(key: string, value: string, ttl?: number): void {
    this.lru.set(key, value, { ttl });
  }

  has(key: string): boolean {
    return this.lru.has(key);
  }

  delete(key: string): boolean {
    return this.lru.delete(key);
  }

  clear(): void {
    this.lru.clear();
  }

  /** Entries held now. */
  get size(): number {
    return this.lru.size;
  }

  /** Characters of keys and values held now. */
  get characters(): number {
    return this.lru.calculatedSize;
  }
}
