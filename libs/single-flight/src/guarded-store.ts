import type { Logger } from '@nestjs/common';
import { CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.js';
import { messageOf } from './errors.js';

/** The part of a Keyv store (or a cache-manager Cache) the library uses. */
export interface StoreLike {
  getMany(keys: string[]): Promise<unknown[]>;
  set(key: string, value: unknown, ttl?: number): Promise<unknown>;
  setMany?(entries: { key: string; value: unknown; ttl?: number }[]): Promise<unknown>;
  namespace?: string;
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
 */
export class GuardedStore {
  readonly breaker?: CircuitBreaker;

  constructor(
    readonly store: StoreLike,
    readonly label: string,
    private readonly options: GuardOptions,
    private readonly logger: Logger,
  ) {
    if (options.circuitBreaker) {
      const { resetTimeout } = options.circuitBreaker;
      this.breaker = new CircuitBreaker(options.circuitBreaker, (open, cause) =>
        open
          ? this.logger.warn(`Cache store ${label} failing (${messageOf(cause)}): circuit open, its reads are misses and writes skipped for ${resetTimeout} ms`)
          : this.logger.log(`Cache store ${label} answering again: circuit closed`),
      );
    }
  }

  /** Values for `keys`, or `undefined` when the store failed or the circuit is open. */
  async getMany(keys: string[]): Promise<unknown[] | undefined> {
    const outcome = await this.attempt('read', () => this.store.getMany(keys), false);
    return outcome.ok ? outcome.value : undefined;
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

  private async attempt<T>(op: string, run: () => Promise<T>, force: boolean): Promise<{ ok: true; value: T } | { ok: false }> {
    const breaker = force ? undefined : this.breaker;
    if (breaker && !breaker.allow()) return { ok: false };
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const value = await new Promise<T>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`cache store ${this.label} took longer than ${this.options.timeout} ms`)), this.options.timeout);
        run().then(resolve, reject);
      });
      breaker?.success();
      return { ok: true, value };
    } catch (error) {
      if (!this.breaker?.isOpen) this.logger.warn(`Cache ${op} failed on store ${this.label}, going on without it: ${messageOf(error)}`);
      breaker?.failure(error);
      return { ok: false };
    } finally {
      clearTimeout(timer);
    }
  }
}

