import { Injectable, Logger } from '@nestjs/common';
import { Deadlines, type Deadline } from './deadlines.js';
import { FlightTimeoutError } from './errors.js';

export interface FlightRunOptions {
  /** How long this caller waits (ms); it alone is rejected, the flight goes on. */
  timeout?: number;
  /** After this (ms) the flight is forgotten, its waiters rejected and its loader's signal aborted. */
  hardTimeout?: number;
  /** This caller's own cancellation. The loader never sees it. */
  signal?: AbortSignal;
  /**
   * `false`: the loader takes no AbortSignal, and none is made for a flight this call starts
   * (an AbortController costs more than the rest of a flight). Default `true`.
   */
  abortable?: boolean;
}

interface Flight {
  /** Settled once, by the loader or the hard timeout. */
  readonly outcome: Promise<unknown>;
  /** Only for abortable flights. */
  readonly controller?: AbortController;
  /** Callers still attached; when the last one leaves early, the loader is aborted. */
  waiters: number;
  hardTimer?: Deadline;
}

/**
 * Per-key single flight, as Go's `x/sync/singleflight`: the first caller of a key runs the
 * loader, everyone who arrives before it settles gets the same outcome. A flight is registered
 * before its loader starts, so a loader that calls `run` with its own key joins itself.
 */
@Injectable()
export class FlightRegistry {
  private readonly flights = new Map<string, Flight>();
  private readonly logger = new Logger('SingleFlight');
  /** Hard timeouts fire within 100 ms of being due. */
  private readonly deadlines = new Deadlines(100);

  /** Flights in progress. */
  get size(): number {
    return this.flights.size;
  }

  /** Callers attached to the flight of `key` (0 when there is none). */
  waiters(key: string): number {
    return this.flights.get(key)?.waiters ?? 0;
  }

  run<T>(key: string, fn: (signal: AbortSignal) => Promise<T> | T, options?: FlightRunOptions & { abortable?: true }): Promise<T>;
  run<T>(key: string, fn: () => Promise<T> | T, options: FlightRunOptions & { abortable: false }): Promise<T>;
  run<T>(key: string, fn: (signal: AbortSignal) => Promise<T> | T, options: FlightRunOptions = {}): Promise<T> {
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    let flight = this.flights.get(key);
    if (flight) flight.waiters++;
    else flight = this.start(key, fn, options);
    if (options.timeout === undefined && options.signal === undefined) {
      // Nothing can make this caller leave early: share the flight's promise as is.
      return flight.outcome as Promise<T>;
    }
    return this.attach(key, flight, options) as Promise<T>;
  }

  /** Detach the current flight of `key`: later callers start a new one. Its callers still get its outcome. */
  forget(key: string): void {
    const flight = this.flights.get(key);
    if (flight) this.drop(key, flight);
  }

  private start(key: string, fn: (signal: AbortSignal) => unknown, { hardTimeout, abortable = true }: FlightRunOptions): Flight {
    let resolve!: (value: unknown) => void;
    let rejectOutcome!: (error: unknown) => void;
    // Nobody may be listening when it settles (every caller left): never an unhandled rejection.
    const reject = (error: unknown) => (outcome.catch(noop), rejectOutcome(error));
    const outcome = new Promise((res, rej) => ((resolve = res), (rejectOutcome = rej)));
    const flight: Flight = { outcome, controller: abortable ? new AbortController() : undefined, waiters: 1 };
    this.flights.set(key, flight);
    if (hardTimeout !== undefined) {
      flight.hardTimer = this.deadlines.add(hardTimeout, () => {
        const error = new FlightTimeoutError(key, hardTimeout, 'flight', flight.controller !== undefined);
        // Once per flight; its callers get the error (a 503 over HTTP), which Nest does not log again.
        this.logger.error(`${error.message} (${flight.waiters} caller${flight.waiters === 1 ? '' : 's'} waiting)`);
        reject(error);
        this.drop(key, flight);
        flight.controller?.abort(error);
      });
    }
    const settle = () => {
      flight.hardTimer?.cancel();
      this.drop(key, flight);
    };
    let result: unknown;
    try {
      result = fn(flight.controller?.signal as AbortSignal);
    } catch (error) {
      result = Promise.reject(error);
    }
    (isThenable(result) ? result : Promise.resolve(result)).then(
      (value) => (settle(), resolve(value)),
      (error) => (settle(), reject(error)),
    );
    return flight;
  }

  private attach(key: string, flight: Flight, { timeout, signal }: FlightRunOptions): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let done = false;
      const finish = (settleCaller: () => void, leftEarly: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (leftEarly) this.leave(key, flight);
        settleCaller();
      };
      const onAbort = () => finish(() => reject(signal!.reason), true);
      if (timeout !== undefined) {
        timer = setTimeout(() => finish(() => reject(new FlightTimeoutError(key, timeout, 'caller')), true), timeout);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      flight.outcome.then(
        (value) => finish(() => resolve(value), false),
        (error) => finish(() => reject(error), false),
      );
    });
  }

  private leave(key: string, flight: Flight): void {
    if (--flight.waiters > 0) return;
    // Every caller gave up: abort the loader and let the next caller start afresh.
    this.drop(key, flight);
    flight.hardTimer?.cancel();
    flight.controller?.abort(new Error(`Every caller of flight "${key}" left`));
  }

  private drop(key: string, flight: Flight): void {
    if (this.flights.get(key) === flight) this.flights.delete(key);
  }
}

const noop = () => undefined;
const isThenable = (value: unknown): value is PromiseLike<unknown> => typeof (value as PromiseLike<unknown> | null)?.then === 'function';
