import type { Logger } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { messageOf } from './errors.js';
import type { FlightRegistry } from './flight-registry.js';

/** Keys in backoff after a failed refresh, at most (least recently failed forgotten first: they are only retried sooner). */
const BACKOFFS_KEPT = 10_000;

/** The error a refresh's load gets once the application is stopping: nothing more is loaded. */
export class RefreshStoppedError extends Error {
  constructor(key: string) {
    super(`The refresh of "${key}" did not run: the application is stopping`);
    this.name = 'RefreshStoppedError';
  }
}

/**
 * Refreshes of stale values (and values due for `refreshAhead`), run beside the callers who were
 * handed the stale value. Each is a flight of the FlightRegistry under `refreshKey(key)`: at most
 * one per key at a time, bounded by the hard timeout, and forgotten when one of its tags is
 * evicted (tag-invalidation.ts, rule 2), so nobody joins a refresh that would write a stale value.
 * A refresh that fails is logged (once per attempt, with the method and key) and its key is not
 * refreshed again for `refreshBackoff` ms: a dead database sees one attempt per key per backoff.
 * Its promise never rejects into nowhere; after `stop()` none starts and none loads.
 */
export class BackgroundRefreshes {
  private readonly failedUntil = new LRUCache<string, number>({ max: BACKOFFS_KEPT });
  private stopping = false;

  constructor(
    private readonly registry: FlightRegistry,
    private readonly logger: Logger,
  ) {}

  /** The flight of a key's refresh: apart from the key's own flight, which hands out the stale value meanwhile. */
  static refreshKey(key: string): string {
    return `refresh:${key}`;
  }

  get stopped(): boolean {
    return this.stopping;
  }

  /** Whether a refresh of `key` is in the air (and may be joined). */
  running(key: string): boolean {
    return this.registry.waiters(BackgroundRefreshes.refreshKey(key)) > 0;
  }

  /** Whether a refresh of `key` failed less than its backoff ago. */
  backingOff(key: string): boolean {
    const until = this.failedUntil.get(key);
    return until !== undefined && Date.now() < until;
  }

  /**
   * Joins the refresh of `key` in the air, or starts `refresh` as it. Resolves or rejects with its
   * outcome; undefined once stopped. A failure is logged and starts the backoff (once per attempt,
   * however many joined it), before the flight settles, so no caller slips a second attempt in.
   * `refresh` is told when its hard timeout has passed (`lapsed()`): the registry has forgotten it
   * by then and another may have started, so what it loads after that must not be written.
   */
  run<T>(key: string, where: string, refresh: (lapsed: () => boolean) => Promise<T>, options: { hardTimeout: number; backoff: number }): Promise<T> | undefined {
    if (this.stopping) return undefined;
    const flightKey = BackgroundRefreshes.refreshKey(key);
    if (this.registry.waiters(flightKey) > 0) return this.registry.run(flightKey, () => refresh(() => false), { abortable: false });
    // The registry aborts the flight's signal when it gives up on it (its hard timeout): that is the lapse.
    const attempt = async (signal: AbortSignal) => {
      const lapsed = () => signal.aborted;
      try {
        const outcome = await refresh(lapsed);
        this.failedUntil.delete(key);
        return outcome;
      } catch (error) {
        this.failedUntil.set(key, Date.now() + options.backoff);
        // Stopping: nothing to add.
        if (!this.stopping && !(error instanceof RefreshStoppedError)) {
          this.logger.warn(`${where}: refreshing "${key}" failed (${messageOf(error)}); the cached value is served meanwhile, next attempt in ${options.backoff} ms or later`);
        }
        throw error;
      }
    };
    const outcome = this.registry.run(flightKey, attempt, { hardTimeout: options.hardTimeout });
    // A hard timeout rejects the flight (the registry logs it) while `attempt` may still run: it backs off too.
    outcome.catch((error: unknown) => void ((error as Error)?.name === 'FlightTimeoutError' && this.failedUntil.set(key, Date.now() + options.backoff)));
    return outcome;
  }

  /** Whether a hit past `refreshAhead` (or stale) should start a refresh now: none in the air, no backoff, not stopping. */
  wanted(key: string): boolean {
    return !this.stopping && !this.running(key) && !this.backingOff(key);
  }

  /** With the application: no refresh starts, and those in the air load nothing more. */
  stop(): void {
    this.stopping = true;
  }
}
