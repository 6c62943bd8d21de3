import type { MethodMetadata } from './decorators/method-metadata.js';
import { SingleFlightConfigError } from './errors.js';

/** When a stored value was written and when it goes stale (Date.now, ms), as its entry records them. */
export interface EntryTimes {
  readonly loadedAt: number;
  readonly staleAt: number;
}

/**
 * What a value's age allows, in order:
 * - `fresh`: a hit;
 * - `due`: a hit, and one background refresh starts (`refreshAhead`);
 * - `revalidate`: stale; callers get it at once and one background refresh starts (`staleWhileRevalidate`);
 * - `if-error`: stale; a load runs in front of callers, who get the stale value if it fails or
 *   outlasts `softTimeout` (`staleIfError`);
 * - `expired`: a miss.
 */
export type EntryState = 'fresh' | 'due' | 'revalidate' | 'if-error' | 'expired';

/** The expiry options of a method, resolved (its own, else the module's). */
export interface ExpiryOptions {
  ttl?: number;
  staleWhileRevalidate: number;
  staleIfError: number;
  softTimeout?: number;
  refreshAhead?: number;
  jitter: number;
  refreshBackoff: number;
}

/** Module defaults, as the settings hold them. */
export type ExpiryDefaults = Partial<ExpiryOptions>;

export const DEFAULT_REFRESH_BACKOFF = 5_000;

/**
 * How long a method's values are fresh and how long, stale, they may still serve. One rule in one
 * place: the store keeps an entry for its (jittered) ttl plus the longest stale window, and the
 * entry records when it goes stale; a value's state is read from those times and the clock.
 * Eviction is not decided here: an entry whose tag tokens changed is a miss whatever its age.
 */
export class ExpiryPolicy implements ExpiryOptions {
  readonly ttl?: number;
  readonly staleWhileRevalidate: number;
  readonly staleIfError: number;
  readonly softTimeout?: number;
  readonly refreshAhead?: number;
  readonly jitter: number;
  readonly refreshBackoff: number;
  /** How long after going stale an entry may still serve: the longest stale window. */
  readonly window: number;
  /** Whether entries record their times (only needed to serve stale values or refresh ahead). */
  readonly timed: boolean;

  constructor(options: ExpiryOptions) {
    ({
      ttl: this.ttl,
      staleWhileRevalidate: this.staleWhileRevalidate,
      staleIfError: this.staleIfError,
      softTimeout: this.softTimeout,
      refreshAhead: this.refreshAhead,
      jitter: this.jitter,
      refreshBackoff: this.refreshBackoff,
    } = options);
    this.window = Math.max(this.staleWhileRevalidate, this.staleIfError);
    this.timed = this.ttl !== undefined && (this.window > 0 || this.refreshAhead !== undefined);
  }

  /** For a value written now: its times (if entries record them) and how long the store keeps it (undefined: the store's default). */
  stamp(now: number): { times?: EntryTimes; storeTtl?: number } {
    if (this.ttl === undefined) return {};
    // Keys written together should not expire together: each write's ttl is cut by up to `jitter` of it.
    const fresh = this.jitter > 0 ? Math.max(1, Math.round(this.ttl * (1 - Math.random() * this.jitter))) : this.ttl;
    return { times: this.timed ? { loadedAt: now, staleAt: now + fresh } : undefined, storeTtl: fresh + this.window };
  }

  /** What a stored value with `times` (none: an entry that records none, fresh while the store keeps it) allows at `now`. */
  state(times: EntryTimes | undefined, now: number): EntryState {
    if (times === undefined) return 'fresh';
    if (now < times.staleAt) return this.refreshAhead !== undefined && now >= this.refreshAt(times) ? 'due' : 'fresh';
    const late = now - times.staleAt;
    if (late < this.staleWhileRevalidate) return 'revalidate';
    if (late < this.staleIfError) return 'if-error';
    return 'expired';
  }

  /**
   * When a hit starts a refresh: after `refreshAhead` of the value's lifetime. A fixed point, not
   * XFetch's random one: XFetch spreads refreshes so that uncoordinated callers rarely recompute
   * together, but here one refresh per key is already guaranteed (per process by the flight, per
   * fleet by the lease), and a fixed point is one the tests and the README can state.
   */
  refreshAt(times: EntryTimes): number {
    return times.loadedAt + this.refreshAhead! * (times.staleAt - times.loadedAt);
  }

  /** How long the store keeps entries, at most (undefined: unknown, the store's default). */
  get longestStoreTtl(): number | undefined {
    return this.ttl === undefined ? undefined : this.ttl + this.window;
  }
}

/** The policies of one application's methods (module defaults differ between applications), made once per method. */
export class ExpiryPolicies {
  private readonly policies = new WeakMap<MethodMetadata, ExpiryPolicy>();

  constructor(private readonly defaults: ExpiryDefaults) {}

  of(meta: MethodMetadata): ExpiryPolicy {
    let policy = this.policies.get(meta);
    if (!policy) this.policies.set(meta, (policy = new ExpiryPolicy(expiryOptionsOf(meta, this.defaults))));
    return policy;
  }
}

export function expiryOptionsOf({ cached, singleFlight }: MethodMetadata, defaults: ExpiryDefaults): ExpiryOptions {
  return {
    ttl: cached?.ttl ?? defaults.ttl,
    staleWhileRevalidate: cached?.staleWhileRevalidate ?? defaults.staleWhileRevalidate ?? 0,
    staleIfError: cached?.staleIfError ?? defaults.staleIfError ?? 0,
    softTimeout: cached?.softTimeout ?? singleFlight?.softTimeout ?? defaults.softTimeout,
    refreshAhead: cached?.refreshAhead ?? defaults.refreshAhead,
    jitter: cached?.jitter ?? defaults.jitter ?? 0,
    refreshBackoff: cached?.refreshBackoff ?? defaults.refreshBackoff ?? DEFAULT_REFRESH_BACKOFF,
  };
}

/** Both stale windows start at the ttl: a staleIfError that ends inside staleWhileRevalidate is never reached. `where` names who set it. */
export function assertStaleIfErrorReachable(where: string, staleIfError: number, staleWhileRevalidate: number): void {
  if (staleIfError > 0 && staleIfError <= staleWhileRevalidate) {
    throw new SingleFlightConfigError(
      `${where}: staleIfError ${staleIfError} ms adds nothing: both windows start at the ttl, and staleWhileRevalidate (${staleWhileRevalidate} ms) already hands out the stale value for that long. Make staleIfError longer, or 0 (or staleWhileRevalidate 0, where nothing should revalidate)`,
    );
  }
}
