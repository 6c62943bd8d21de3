/** A timeout registered with Deadlines; `cancel` it when the work settles first. */
export interface Deadline {
  cancel(): void;
}

/**
 * Many timeouts for the price of one timer. A cache hit used to build two (the store operation's
 * and the flight's hard timeout), each a setTimeout and a clearTimeout: more than the rest of a
 * memory-store hit. Here a timeout is an entry in a bucket of `resolution` ms, and one unref'd
 * interval, running only while some are pending, fires the buckets that are due: a timeout fires
 * between `ms` and `ms + resolution` after it was set, which is all a store timeout or a hard
 * timeout needs.
 */
export class Deadlines {
  private readonly buckets = new Map<number, Set<() => void>>();
  private pending = 0;
  /** The first slot not fired yet. */
  private next = 0;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly resolution: number) {}

  /** A resolution suited to timeouts of `ms`: a tenth of it, within 1..100 ms. */
  static for(ms: number): Deadlines {
    return new Deadlines(Math.min(100, Math.max(1, Math.floor(ms / 10))));
  }

  add(ms: number, fire: () => void): Deadline {
    if (this.pending === 0) {
      // Whatever is left holds only cancelled entries.
      this.buckets.clear();
      this.next = Math.floor(performance.now() / this.resolution);
    }
    const slot = Math.max(this.next, Math.ceil((performance.now() + ms) / this.resolution));
    let bucket = this.buckets.get(slot);
    if (!bucket) this.buckets.set(slot, (bucket = new Set()));
    const entry = () => fire();
    bucket.add(entry);
    this.pending++;
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.resolution);
      this.timer.unref?.();
    }
    return {
      cancel: () => {
        // Removed, not flagged: a flagged entry would live until its slot passed (500 ms for a store
        // timeout) and be promoted to the old generation; at 100,000 hits a second that cost more than
        // the timers did. The interval stops at its next tick with nothing pending.
        if (bucket.delete(entry)) this.pending--;
      },
    };
  }

  private tick(): void {
    const now = Math.floor(performance.now() / this.resolution);
    for (; this.next <= now; this.next++) {
      const bucket = this.buckets.get(this.next);
      if (!bucket) continue;
      this.buckets.delete(this.next);
      // Each leaves its bucket as it fires: a cancel() after (or during) the firing counts nothing twice.
      for (const fire of bucket) {
        bucket.delete(fire);
        this.pending--;
        fire();
      }
    }
    if (this.pending === 0) this.stop();
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.buckets.clear();
  }
}
