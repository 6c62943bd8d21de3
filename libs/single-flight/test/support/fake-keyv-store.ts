import type { Latch } from './latch.js';

export type StoreMode = 'ok' | 'throw';

/**
 * A Keyv storage adapter for fault injection (the FaultyStore of resilience.spec.ts, with more
 * knobs): it works or throws as a whole, fails the `getMany` calls that ask for one chosen key
 * only, and can hold its reads' answers (read now, answer when the test releases them).
 * Counts the calls that reached it.
 */
export class FakeKeyvStore {
  mode: StoreMode = 'ok';
  readonly data = new Map<string, unknown>();
  /** Calls of getMany / set / setMany that reached the store. */
  reads = 0;
  writes = 0;
  /** A getMany asking for a key this matches rejects; the others answer. */
  failReadsOf: ((key: string) => boolean) | undefined;
  /** While set, getMany reads at once but answers only once it is released. */
  holdReads: Latch | undefined;
  /** getMany calls waiting on `holdReads`. */
  heldReads = 0;

  get(key: string): Promise<unknown> {
    return this.mode === 'throw' ? this.refuse() : Promise.resolve(this.data.get(key));
  }

  getMany(keys: string[]): Promise<unknown[]> {
    this.reads++;
    if (this.mode === 'throw') return this.refuse();
    const values = keys.map((key) => this.data.get(key));
    const failing = this.failReadsOf !== undefined && keys.some(this.failReadsOf);
    const hold = this.holdReads;
    if (!hold && !failing) return Promise.resolve(values);
    return (async () => {
      if (hold) {
        this.heldReads++;
        await hold.promise;
      }
      if (failing) throw new Error(`ECONNRESET while reading ${keys.join(', ')}`);
      return values;
    })();
  }

  set(key: string, value: unknown): Promise<boolean> {
    this.writes++;
    if (this.mode === 'throw') return this.refuse();
    this.data.set(key, value);
    return Promise.resolve(true);
  }

  delete(key: string): Promise<boolean> {
    return this.mode === 'throw' ? this.refuse() : Promise.resolve(this.data.delete(key));
  }

  clear(): Promise<void> {
    return this.mode === 'throw' ? this.refuse() : Promise.resolve(this.data.clear());
  }

  /** What @nestjs/cache-manager calls when the application closes: the store is gone afterwards. */
  disconnect(): Promise<void> {
    this.disconnected = true;
    this.mode = 'throw';
    return Promise.resolve();
  }

  disconnected = false;

  on(): this {
    return this;
  }

  private refuse(): Promise<never> {
    return Promise.reject(new Error('ECONNREFUSED 127.0.0.1:6379'));
  }
}
