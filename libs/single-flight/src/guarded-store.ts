import type { Logger } from '@nestjs/common';
import { CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.js';
import { Deadlines } from './deadlines.js';
import { messageOf } from './errors.js';

/** The part of a Keyv store (or a cache-manager Cache) the library uses. */
export interface StoreLike {
  getMany(keys: string[]): Promise<unknown[]>;
  set(key: string, value: unknown, ttl?: number): Promise<unknown>;
  setMany?(entries: { key: string; value: unknown; ttl?: number }[]): Promise<unknown>;
  namespace?: string;
}

/** Where a store's failures and breaker transitions are counted (flight-telemetry.ts). */
export interface StoreEvents {
  storeFailure(store: string, operation: string): void;
  breakerChanged(store: string, open: boolean): void;
}

export interface GuardOptions {
  /** An operation slower than this (ms) has failed. */
  timeout: number;
  /** `false`: every operation is tried. */
  circuitBreaker: Required<CircuitBreakerOptions> | false;
}

/**
 * One cache store as the library sees it (bentocache's RemoteCache, in spirit): every operation
 * has its own timeout and its own outcome, so a failure is charged to the operation that failed
 * and never to concurrent healthy ones. Keyv reports a failed write as `false` and a failed
 * `getMany` as a rejection; both count. Repeated failures open a circuit breaker.
 * A store that answers is healthy, whatever it answers: unreadable content is a miss (see getMany).
 * An outage is logged once, when it begins, and once when the store answers again.
 */
export class GuardedStore {
  readonly breaker?: CircuitBreaker;
  /** Failures since the store last answered (0: healthy); only the first of an outage is logged. */
  private failing = 0;
  private readonly deadlines: Deadlines;

  constructor(
    readonly store: StoreLike,
    readonly label: string,
    private readonly options: GuardOptions,
    private readonly logger: Logger,
    private readonly events?: StoreEvents,
  ) {
    this.deadlines = Deadlines.for(options.timeout);
    if (options.circuitBreaker) {
      const { resetTimeout } = options.circuitBreaker;
      this.breaker = new CircuitBreaker(options.circuitBreaker, (open, cause) => {
        this.events?.breakerChanged(label, open);
        if (open) this.logger.warn(`Cache store ${label} failing (${messageOf(cause)}): circuit open, its reads are misses and writes skipped for ${resetTimeout} ms`);
        else this.logger.log(`Cache store ${label} answering again: circuit closed`);
      });
    }
  }

  /** Values for `keys`, or `undefined` when the store failed or the circuit is open. */
  getMany(keys: string[]): Promise<unknown[] | undefined> {
    return this.attempt('read', () => this.readAnswered(keys), false).then((outcome) => (outcome.ok ? outcome.value : undefined));
  }

  /**
   * Keyv rejects a whole `getMany` when one value is not the JSON it wrote (junk written by
   * someone else): the store did answer, so the keys are read one by one and the unreadable
   * ones are misses, which the next load replaces. Only this rare path costs more round trips.
   */
  private readAnswered(keys: string[]): Promise<unknown[]> {
    return this.store.getMany(keys).catch((error: unknown) => {
      if (!isUnreadable(error)) throw error;
      if (keys.length === 1) return [undefined];
      return Promise.all(keys.map((key) => this.store.getMany([key]).then((values) => values[0], (e) => (isUnreadable(e) ? undefined : Promise.reject(e)))));
    });
  }

  /**
   * Runs a write; whether it was written. `force`: writes correctness depends on (tag
   * invalidations) are tried even while the circuit is open, and neither take nor end its
   * half-open probe: the breaker only hears about operations it let through.
   */
  async write(op: string, run: () => Promise<unknown>, force = false): Promise<boolean> {
    const outcome = await this.attempt(
      op,
      async () => {
        const written = await run();
        if (written === false || (Array.isArray(written) && written.includes(false))) throw new Error('the store did not take the write');
      },
      force,
    );
    return outcome.ok;
  }

  /** Then-chains rather than async frames and one Deadlines entry rather than a timer: this is every hit's path. */
  private attempt<T>(op: string, run: () => Promise<T>, force: boolean): Promise<{ ok: true; value: T } | { ok: false }> {
    const breaker = force ? undefined : this.breaker;
    if (breaker && !breaker.allow()) return Promise.resolve({ ok: false });
    return new Promise((resolve) => {
      let settled = false;
      const deadline = this.deadlines.add(this.options.timeout, () => fail(new Error(`cache store ${this.label} took longer than ${this.options.timeout} ms`)));
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        deadline.cancel();
        this.events?.storeFailure(this.label, op);
        if (this.failing++ === 0 && !this.breaker?.isOpen) {
          this.logger.warn(`Cache ${op} failed on store ${this.label}, going on without it: ${messageOf(error)}`);
        }
        breaker?.failure(error);
        resolve({ ok: false });
      };
      let started: Promise<T>;
      try {
        started = run();
      } catch (error) {
        return fail(error);
      }
      started.then((value) => {
        if (settled) return;
        settled = true;
        deadline.cancel();
        breaker?.success();
        this.answered();
        resolve({ ok: true, value });
      }, fail);
    });
  }

  private answered(): void {
    // With a breaker, its closing is the line that ends the outage.
    if (this.failing > 1 && !this.breaker) this.logger.log(`Cache store ${this.label} answering again, after ${this.failing} failed operations`);
    this.failing = 0;
  }
}

/** A store's content that its own deserializer could not read (Keyv: JSON.parse), as opposed to the store failing. */
const isUnreadable = (error: unknown): boolean => error instanceof SyntaxError;

