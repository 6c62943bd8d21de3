import type { Logger } from '@nestjs/common';

/** First retry after this (ms), doubling up to MAX_DELAY: a store back from an outage gets the invalidations within a second. */
const FIRST_DELAY = 100;
const MAX_DELAY = 1_000;
/** Tags written per retry round trip. */
const BATCH = 100;
/** Tags kept at most; past it the oldest is dropped, with an error (see README, "When the store fails"). */
export const MAX_PENDING_TAGS = 100_000;

/**
 * Invalidations the shared store did not take (down, hanging, or its circuit open), kept in this
 * process and written again until it takes them. An invalidation writes a fresh token, so only the
 * last one per tag matters: they are coalesced per tag, and retried in the order they failed.
 * While a tag is here, this process treats its entries as misses (TagInvalidation.isPending);
 * other processes learn of it when the retry lands.
 */
export class InvalidationRetries {
  /** Tag -> sequence number of its latest failed invalidation; insertion order is retry order. */
  private readonly pending = new Map<string, number>();
  private sequence = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The round in progress, if any. */
  private round: Promise<void> | undefined;
  private delay = FIRST_DELAY;
  /** When the queue last became non-empty, for the line that ends the outage. */
  private since = 0;
  private dropped = 0;
  private stopped = false;

  constructor(
    /** Writes fresh tokens for `tags`; whether the store took them. */
    private readonly write: (tags: readonly string[]) => Promise<boolean>,
    private readonly logger: Logger,
    private readonly maxTags = MAX_PENDING_TAGS,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** Does any of `tags` have an invalidation waiting? The hot path: one map lookup per tag. */
  hasAny(tags: readonly string[]): boolean {
    if (this.pending.size === 0) return false;
    for (const tag of tags) if (this.pending.has(tag)) return true;
    return false;
  }

  /** A mark for `settled`: invalidations queued up to now. */
  mark(): number {
    return this.sequence;
  }

  /** Keeps `tags` until a write of them succeeds. */
  add(tags: readonly string[]): void {
    if (tags.length === 0) return;
    if (this.stopped) {
      this.logger.error(`Cache invalidation of ${tags.join(', ')} not written while the application stops: other processes may serve entries under those tags until their ttl ends`);
      return;
    }
    if (this.pending.size === 0) {
      this.since = Date.now();
      this.logger.error(
        `Cache invalidation of ${tags.length === 1 ? `tag "${tags[0]}"` : `${tags.length} tags`} not written: the store is unavailable. ` +
          'Kept and retried until it is written; meanwhile this process treats entries under it as misses (further invalidations are queued silently)',
      );
    }
    for (const tag of tags) {
      this.pending.set(tag, ++this.sequence);
      if (this.pending.size > this.maxTags) this.drop(this.pending.keys().next().value!);
    }
    this.schedule();
  }

  /**
   * A write of fresh tokens for `tags` that began after `mark` was taken succeeded: it covers every
   * invalidation of them queued up to the mark (their own writes had been acknowledged before).
   */
  settled(tags: readonly string[], mark: number): void {
    if (this.pending.size === 0) return;
    for (const tag of tags) {
      const seq = this.pending.get(tag);
      if (seq !== undefined && seq <= mark) this.pending.delete(tag);
    }
    if (this.pending.size === 0) this.drained();
  }

  /** One last round now, before the stores close (graceful shutdown); each write bounded by the store timeout. */
  async flush(): Promise<void> {
    if (this.round) await this.round;
    if (this.pending.size === 0 || this.stopped) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.retry();
  }

  /** With the application: no more retries. What is left is reported, since it is lost. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.pending.size > 0) {
      this.logger.error(
        `Stopping with ${this.pending.size} cache invalidation(s) never written (${[...this.pending.keys()].slice(0, 5).join(', ')}${this.pending.size > 5 ? ', ...' : ''}): ` +
          'other processes may serve entries under those tags until their ttl ends',
      );
    }
  }

  /** One timer at a time, and none while a round runs (the round schedules the next when it fails). */
  private schedule(): void {
    if (this.timer !== undefined || this.round || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.retry();
    }, this.delay);
    this.timer.unref?.();
  }

  /** One round at a time: the oldest batch first; the next only once it is written, so the order holds. */
  private retry(): Promise<void> {
    this.round ??= this.writeInOrder().finally(() => {
      this.round = undefined;
      if (this.pending.size > 0) this.schedule(); // nothing after stop()
    });
    return this.round;
  }

  private async writeInOrder(): Promise<void> {
    while (this.pending.size > 0 && !this.stopped) {
      const mark = this.sequence;
      const tags = [...take(this.pending.keys(), BATCH)];
      if (!(await this.write(tags))) {
        this.delay = Math.min(this.delay * 2, MAX_DELAY);
        return;
      }
      this.settled(tags, mark);
    }
  }

  private drained(): void {
    this.delay = FIRST_DELAY;
    if (this.stopped) return;
    const lost = this.dropped ? `; ${this.dropped} could not be kept (more than ${this.maxTags} tags) and were lost` : '';
    this.logger.log(`Queued cache invalidations written, ${Date.now() - this.since} ms after the first failed${lost}`);
    this.dropped = 0;
  }

  private drop(tag: string): void {
    this.pending.delete(tag);
    if (this.dropped++ === 0) {
      this.logger.error(`More than ${this.maxTags} tags wait for their invalidation: the oldest are dropped, and their entries may be served stale until their ttl ends`);
    }
  }
}

function* take<T>(items: Iterable<T>, n: number): Generator<T> {
  if (n <= 0) return;
  for (const item of items) {
    yield item;
    if (--n === 0) return;
  }
}
