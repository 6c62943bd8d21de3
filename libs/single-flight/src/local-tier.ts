import { LRUCache } from 'lru-cache';

/** `forRoot({ local })`: an in-process tier in front of CACHE_MANAGER, holding decoded values. */
export interface LocalTierOptions {
  /** Entries kept, at most (least recently used dropped first). Required, as lru-cache requires it. */
  max: number;
  /** Characters of encoded value kept, at most (a value's encoded length stands for its size). Default: no bound but `max`. */
  maxSize?: number;
  /**
   * Longest time (ms) a value is served from this tier after it was read or loaded. Default: the
   * method's ttl (a minute if it has none the library knows) with a `redis` bus, 1,000 without one; without a bus it is the bound on how long
   * another process's eviction can go unseen here, so it may not exceed 10,000.
   */
  ttl?: number;
}

/** Without a bus, the longest `local.ttl` allowed, and the default. */
export const LOCAL_TTL_WITHOUT_BUS_MAX = 10_000;
export const LOCAL_TTL_WITHOUT_BUS_DEFAULT = 1_000;

/** How long a value of a method with no ttl the library knows (neither `@Cached` nor `forRoot` has one) is kept. */
export const UNKNOWN_TTL_LIFETIME = 60_000;

/** A value as the local tier keeps it. */
export interface KeptValue {
  /** Frozen: handed out as is. Otherwise pristine: never handed out, only copied. */
  readonly value: unknown;
  readonly frozen: boolean;
  /** The encoded value, to decode a copy when cloning cannot. */
  readonly text: string;
}

interface LocalEntry extends KeptValue {
  /** When (Date.now) a hit starts a background refresh (`refreshAhead`); undefined: never. */
  readonly refreshAt?: number;
  readonly tags: readonly string[];
  /** The tokens it was read or loaded under, for diagnostics; validity is decided by `seenAt`. */
  readonly tokens: readonly string[];
  /** The invalidation count when the read that found it began. */
  readonly seenAt: number;
}

/**
 * The in-process tier. An entry is valid while this process has heard of no invalidation of its
 * tags since the read that found it began: its own (`@CacheEvict` here, counted when it starts
 * and again once the store took it) and every other process's, delivered by the bus. That is
 * "its tokens are still the current ones" as far as this process can know, without a round trip.
 *
 * Invalidations are counted (`clock`), and each tag remembers the count of its last one (an LRU
 * of its own; a tag it forgets counts as invalidated when the oldest forgotten one was, which
 * only turns entries into misses). With a bus that is down, nothing here can be trusted: the tier
 * is cleared and bypassed until the bus is back (`usable`).
 */
export class LocalTier {
  private readonly entries: LRUCache<string, LocalEntry>;
  private readonly lastInvalidated: LRUCache<string, number>;
  private clock = 0;
  /** Entries seen before this count are invalid whatever their tags (cleared, or a tag forgotten). */
  private floor = 0;

  constructor(
    options: LocalTierOptions,
    /** The lifetime (ms) of an entry kept without a ttl of its own. */
    private readonly defaultTtl: number | undefined,
    /** False while the bus this tier relies on is down. */
    private readonly usable: () => boolean = () => true,
  ) {
    this.entries = new LRUCache<string, LocalEntry>({
      max: options.max,
      ...(options.maxSize ? { maxSize: options.maxSize, sizeCalculation: (entry: LocalEntry) => Math.max(1, entry.text.length) } : {}),
    });
    this.lastInvalidated = new LRUCache<string, number>({
      max: Math.max(10_000, options.max),
      // A tag forgotten to make room: what it said now holds for every tag.
      dispose: (at, _tag, reason) => void (reason === 'evict' && (this.floor = Math.max(this.floor, at))),
    });
  }

  /** Mark taken when a read begins; what it finds may be kept under it. */
  mark(): number {
    return this.clock;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The kept value of `key`, if any is valid. */
  get(key: string): (KeptValue & { readonly refreshAt?: number }) | undefined {
    if (!this.usable()) return undefined;
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.valid(entry.tags, entry.seenAt)) return entry;
    this.entries.delete(key);
    return undefined;
  }

  /**
   * Keeps a value found by a read that began at `seenAt`, unless one of its tags was invalidated
   * since, for `ttl` ms at most (its time left before it goes stale, or its method's ttl).
   */
  keep(key: string, value: KeptValue, tags: readonly string[], tokens: readonly string[], seenAt: number, ttl: number | undefined, refreshAt?: number): void {
    if (!this.usable() || !this.valid(tags, seenAt)) return;
    // Without a ttl of the library's, the store's default (which only cache-manager knows) could be shorter: a minute at most.
    const lifetime = Math.min(ttl ?? UNKNOWN_TTL_LIFETIME, this.defaultTtl ?? Infinity);
    this.entries.set(key, { ...value, tags, tokens, seenAt, refreshAt }, { ttl: Math.max(1, Math.ceil(lifetime)) });
  }

  /** Entries under any of `tags`, and reads of them in progress, are no longer valid here. */
  invalidate(tags: readonly string[]): void {
    this.clock++;
    for (const tag of tags) this.lastInvalidated.set(tag, this.clock);
  }

  /** Nothing kept so far, nor read so far, is valid (the bus went down or came back). */
  clear(): void {
    this.floor = ++this.clock;
    this.entries.clear();
  }

  private valid(tags: readonly string[], seenAt: number): boolean {
    if (seenAt < this.floor) return false;
    for (const tag of tags) if ((this.lastInvalidated.get(tag) ?? this.floor) > seenAt) return false;
    return true;
  }
}
