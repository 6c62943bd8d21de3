import { randomBytes } from 'node:crypto';
import type { FleetBus } from './fleet-bus.js';
import type { MethodTelemetry } from './flight-telemetry.js';
import { UNANSWERED, type RedisLink } from './redis-link.js';

/** Default lease (ms): how long a holder owns a key without renewing it. */
export const DEFAULT_LEASE = 5_000;

// Compare-and-act: only the holder of a lease renews or releases it.
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
// Releasing also tells the waiters (one round trip): after the lease is gone, so one that wakes can take it.
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]) end redis.call('publish', ARGV[2], ARGV[3]) return 1`;

/**
 * One load per key for the whole fleet (`@SingleFlight({ distributed: true })`), on top of each
 * process's own flight: the process's leader takes a lease in Redis (`SET NX PX`) and loads; the
 * leaders of other processes wait for its entry, woken by the bus when its flight ends (and by
 * polling, should a message be lost), and read it. A holder renews its lease while it loads, for
 * at most the hard timeout; one that dies or hangs loses it after `lease` ms, and the first
 * waiter to ask then takes over. With Redis unreachable, every process loads on its own: the
 * cache is never the outage.
 */
export class FleetFlights {
  /** Wake-ups of local waiters, per key. */
  private readonly waiting = new Map<string, Set<() => void>>();

  constructor(
    private readonly link: RedisLink,
    private readonly bus: FleetBus,
    private readonly keyPrefix: string,
    readonly lease: number,
    /** How often a waiter looks again without being told (ms). */
    private readonly poll: number,
  ) {}

  /** Usable now: Redis connected. */
  get available(): boolean {
    return this.link.ready;
  }

  /** Called by the bus: the fleet-wide flight of `key` ended somewhere. */
  settled(key: string): void {
    for (const wake of this.waiting.get(key) ?? []) wake();
  }

  /**
   * `read`: this process's look at the store (a hit, or undefined); `load`: the load and write,
   * told whether it runs under this process's lease.
   * Resolves with a hit found by a read, or with this process's load; waits at most `hardTimeout`
   * for another holder before loading itself. `telemetry` counts its waits and takeovers.
   */
  async run<T>(key: string, read: () => Promise<T | undefined>, load: (leased: boolean) => Promise<T>, hardTimeout: number, telemetry: MethodTelemetry): Promise<T> {
    const leaseKey = `${this.keyPrefix}lease|${key}`;
    const giveUpAt = performance.now() + hardTimeout;
    let waited = false;
    for (;;) {
      const token = randomBytes(12).toString('base64url');
      // Listening before asking: the holder's flight may end between its answer and the wait.
      const woken = this.wake(key);
      const taken = await this.link.run((redis) => redis.set(leaseKey, token, 'PX', this.lease, 'NX'));
      if (taken === UNANSWERED || taken === 'OK') woken.cancel();
      if (taken === UNANSWERED) {
        // A SET that timed out may still take effect when Redis answers again (a pause, a stalled
        // link), leaving a lease nobody holds that would keep the fleet waiting for `lease` ms: its
        // release follows it on the same connection, so Redis runs them in order.
        void this.release(key, leaseKey, token);
        return load(false);
      }
      if (taken === 'OK') {
        if (waited) telemetry.leaseTakeover();
        return this.hold(key, leaseKey, token, read, load, hardTimeout);
      }
      if (!waited) telemetry.leaseWait();
      waited = true;
      await woken.after(Math.min(this.poll, giveUpAt - performance.now()));
      const hit = await read();
      if (hit !== undefined) return hit;
      if (performance.now() >= giveUpAt) {
        telemetry.leaseTakeover();
        return load(false);
      }
    }
  }

  private async hold<T>(key: string, leaseKey: string, token: string, read: () => Promise<T | undefined>, load: (leased: boolean) => Promise<T>, hardTimeout: number): Promise<T> {
    const renewal = setInterval(() => void this.link.run((redis) => redis.eval(RENEW, 1, leaseKey, token, this.lease)), Math.max(1, Math.floor(this.lease / 3)));
    renewal.unref();
    // A hung load stops renewing after the hard timeout: its lease then lapses and a waiter takes over.
    const stopRenewing = setTimeout(() => clearInterval(renewal), hardTimeout);
    stopRenewing.unref();
    try {
      // The previous holder may have filled it between this process's read and its lease.
      const hit = await read();
      if (hit !== undefined) return hit;
      return await load(true);
    } finally {
      clearInterval(renewal);
      clearTimeout(stopRenewing);
      await this.release(key, leaseKey, token);
    }
  }

  /** Deletes the lease if `token` still holds it, and tells every waiter the flight of `key` ended. */
  private release(key: string, leaseKey: string, token: string): Promise<unknown> {
    return this.link.run((redis) => redis.eval(RELEASE, 1, leaseKey, token, this.bus.channel, this.bus.message({ settled: key })));
  }

  /** A wait for the bus to say the flight of `key` ended; `after(ms)` resolves then, or after `ms`. */
  private wake(key: string): { after(ms: number): Promise<void>; cancel(): void } {
    let waiters = this.waiting.get(key);
    if (!waiters) this.waiting.set(key, (waiters = new Set()));
    let told = false;
    let resolve: (() => void) | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const cancel = () => {
      clearTimeout(timer);
      waiters.delete(wake);
      if (waiters.size === 0 && this.waiting.get(key) === waiters) this.waiting.delete(key);
    };
    const wake = () => {
      told = true;
      cancel();
      resolve?.();
    };
    waiters.add(wake);
    return {
      cancel,
      after: (ms) =>
        told
          ? Promise.resolve()
          : new Promise<void>((done) => {
              resolve = done;
              timer = setTimeout(wake, Math.max(0, ms));
            }),
    };
  }
}
