import { Logger } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.js';

export interface ResilientCacheOptions {
  /** A store operation slower than this (ms) counts as failed. */
  operationTimeout: number;
  /** `false` turns the breaker off (every operation is tried). */
  circuitBreaker: Required<CircuitBreakerOptions> | false;
}

class StoreTimeoutError extends Error {
  constructor(op: string, ms: number) {
    super(`cache store ${op} took longer than ${ms} ms`);
  }
}

/**
 * The cache as the library sees it: an optimisation that can never be the outage.
 * A read that fails or hangs is a miss (`undefined`), a write that does is skipped (`false`),
 * with a warning; repeated failures open a circuit breaker.
 *
 * cache-manager 7 and Keyv swallow most store errors (they only emit events), so failures are
 * also counted from those events: an operation during which one was emitted has failed.
 */
export class ResilientCache {
  private readonly logger = new Logger('SingleFlight');
  private readonly breaker?: CircuitBreaker;
  private storeErrors = 0;
  private lastError: unknown;
  private readonly countError = (event: unknown) => {
    const error = event instanceof Error || typeof event === 'string' ? event : (event as { error?: unknown })?.error;
    if (error === undefined) return;
    this.storeErrors++;
    this.lastError = error;
  };

  constructor(
    readonly cache: Cache,
    private readonly options: ResilientCacheOptions,
  ) {
    if (options.circuitBreaker) {
      this.breaker = new CircuitBreaker(options.circuitBreaker, (open, cause) =>
        open
          ? this.logger.warn(`Cache store failing (${describe(cause)}): circuit open, reads are misses and writes skipped for ${options.circuitBreaker && options.circuitBreaker.resetTimeout} ms`)
          : this.logger.log('Cache store answering again: circuit closed'),
      );
    }
    cache.on('mget', this.countError);
    for (const store of cache.stores ?? []) store.on?.('error', this.countError);
  }

  get circuitOpen(): boolean {
    return this.breaker?.isOpen ?? false;
  }

  /** Values for `keys`, or `undefined` when the store could not be read. */
  mget(keys: string[]): Promise<unknown[] | undefined> {
    return this.attempt('read', () => this.cache.mget(keys), undefined);
  }

  /** Whether the value was written. */
  set(key: string, value: string, ttl: number | undefined): Promise<boolean> {
    return this.attempt('write', async () => (await this.cache.set(key, value, ttl), true), false);
  }

  /**
   * Writes that correctness depends on (tag invalidations): tried even while the circuit is open,
   * and a failure is logged as an error, since readers may see stale values until entries expire.
   */
  async mustWrite(list: { key: string; value: string; ttl?: number }[]): Promise<boolean> {
    const ok = await this.attempt('invalidation', async () => (await this.cache.mset(list), true), false, true);
    if (!ok) this.logger.error(`Could not write invalidation of ${list.map((e) => e.key).join(', ')}: entries may be served stale until their ttl ends`);
    return ok;
  }

  close(): void {
    this.cache.off('mget', this.countError);
    for (const store of this.cache.stores ?? []) store.off?.('error', this.countError);
  }

  private async attempt<T>(op: string, run: () => Promise<T>, fallback: T, force = false): Promise<T> {
    if (this.breaker && !this.breaker.allow() && !force) return fallback;
    const errorsBefore = this.storeErrors;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const result = await new Promise<T>((resolve, reject) => {
        timer = setTimeout(() => reject(new StoreTimeoutError(op, this.options.operationTimeout)), this.options.operationTimeout);
        run().then(resolve, reject);
      });
      if (this.storeErrors !== errorsBefore) throw this.lastError;
      this.breaker?.success();
      return result;
    } catch (error) {
      if (!this.breaker?.isOpen) this.logger.warn(`Cache ${op} failed, going on without the cache: ${describe(error)}`);
      this.breaker?.failure(error);
      return fallback;
    } finally {
      clearTimeout(timer);
    }
  }
}

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));
