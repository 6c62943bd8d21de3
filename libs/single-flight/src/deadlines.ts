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
  /** Slot -> timeouts due in it; a cancelled one stays until its slot passes (flagging is cheaper than removing). */
  private readonly buckets = new Map<number, Entry[]>();
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
    const now = performance.now();
    if (this.pending === 0) {
      // Whatever is left holds only cancelled entries.
      this.buckets.clear();
      this.next = Math.floor(now / this.resolution);
    }
    const slot = Math.max(this.next, Math.ceil((now + ms) / this.resolution));
    const entry = new Entry(fire, this);
    const bucket = this.buckets.get(slot);
    if (bucket) bucket.push(entry);
    else this.buckets.set(slot, [entry]);
    this.pending++;
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.resolution);
      this.timer.unref?.();
    }
    return entry;
  }

  /** Called by an entry cancelled before it fired. The interval stops at its next tick with nothing pending. */
  settled(): void {
    this.pending--;
  }

  private tick(): void {
    const now = Math.floor(performance.now() / this.resolution);
    for (; this.next <= now; this.next++) {
      const bucket = this.buckets.get(this.next);
      if (!bucket) continue;
      this.buckets.delete(this.next);
      for (const entry of bucket) entry.due();
    }
    if (this.pending === 0) this.stop();
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.buckets.clear();
  }
}

class Entry implements Deadline {
  private done = false;

  constructor(
    private readonly fire: () => void,
    private readonly owner: Deadlines,
  ) {}

  cancel(): void {
    if (this.done) return;
    this.done = true;
    this.owner.settled();
  }

  due(): void {
    if (this.done) return;
    this.done = true;
    this.owner.settled();
    this.fire();
  }
}
