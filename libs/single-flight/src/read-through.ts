import { tokenOf, type EntryFormat } from './cache-entry.js';
import type { CacheLayout } from './cache-layout.js';
import type { CallerValues, SharedValue } from './caller-value.js';
import { BackgroundRefreshes, RefreshStoppedError } from './background-refreshes.js';
import type { EntryTimes, ExpiryPolicy } from './expiry-policy.js';
import type { FleetFlights } from './fleet-flight.js';
import type { MethodTelemetry } from './flight-telemetry.js';
import type { Invocation } from './invocation.js';
import type { LocalTier } from './local-tier.js';
import { callClock, type Freshness, type TagInvalidation, type TrackedRun } from './tag-invalidation.js';

/** What a read-through (or a plain load) hands its callers. */
export interface Outcome extends Freshness {
  value: SharedValue;
  /** When the value was written and goes stale, if its entry records it. */
  times?: EntryTimes;
}

/** One call's read-through: how its value is made, and where it may go. */
export interface ReadRequest {
  key: string;
  inv: Invocation;
  tags: readonly string[];
  /** Runs the method (inv.load, or a wrapper of it). */
  load: Invocation['load'];
  signal: AbortSignal | undefined;
  freeze: boolean;
  json: boolean;
  /** Keep what is read or loaded in the local tier. */
  local: boolean;
  /** One load for the whole fleet (FleetFlights), bounded by this hard timeout; undefined: this process's flight only. */
  fleetTimeout?: number;
  /** Bounds a background refresh. */
  hardTimeout: number;
  policy: ExpiryPolicy;
  /** A background refresh: only a fresh value found counts, nothing stale is handed out. */
  refresh?: boolean;
  /** A refresh past its hard timeout: forgotten, and another may have started; it writes nothing. */
  lapsed?: () => boolean;
  /** The caller's own read and load (its last try): it joins no refresh begun before it. */
  own?: boolean;
  /** The key the call's arguments make now (a refresh runs after its caller has moved on, and may have changed them). */
  keyNow: () => string;
  /** Where its hits, misses, stale values and loads are counted. */
  telemetry: MethodTelemetry;
}

/** A look at the store: a value found (of any age), and the tokens a load would be recorded under (undefined: the store failed). */
interface Look {
  found?: Outcome;
  current?: (string | undefined)[];
  /** The turn it was read in. */
  readAt: number;
}

/**
 * Read, decode or load, write: one step of the flow. One round trip reads the entry and its tags'
 * current tokens; a valid entry is a hit, fresh or (within its stale windows, expiry-policy.ts)
 * stale; otherwise the method runs (once for the fleet, with `fleetTimeout`) and its value is
 * written, recorded under the tokens read before the load began (tag-invalidation.ts says why).
 * A stale hit is refreshed beside its callers (background-refreshes.ts). What a run finds fresh
 * or loads goes to the local tier, unless one of its tags was invalidated meanwhile.
 */
export class ReadThrough {
  constructor(
    private readonly layout: CacheLayout,
    private readonly tags: TagInvalidation,
    private readonly values: CallerValues,
    private readonly entries: EntryFormat,
    private readonly refreshes: BackgroundRefreshes,
    private readonly localTier?: LocalTier,
    private readonly fleet?: FleetFlights,
  ) {}

  async run(request: ReadRequest): Promise<Outcome> {
    // Tracked from the read on: an eviction meanwhile detaches this run from later callers.
    const { run, untrack } = this.tags.track(request.refresh ? BackgroundRefreshes.refreshKey(request.key) : request.key, request.tags);
    const seenAt = this.localTier?.mark() ?? 0;
    try {
      const look = await this.look(request);
      const { found } = look;
      const state = found ? request.policy.state(found.times, Date.now()) : 'expired';
      let outcome: Outcome;
      // A background refresh is counted by its load only: hits, stale values and misses are what
      // callers met, one of them per run (a miss where a load runs or is joined: loadFresh).
      const counted = !request.refresh;
      if (found && (state === 'fresh' || (state === 'due' && counted))) {
        if (counted) request.telemetry.hit('shared');
        outcome = found;
      } else if (found && state === 'revalidate' && counted) return this.revalidate(request, found);
      else if (found && state === 'if-error' && counted) return await this.loadOrStale(request, found);
      else outcome = await this.loadFresh(request, run, look);
      if (state === 'due' && outcome === found) this.refreshLater(request);
      if (request.local) this.keepLocally(request, run, outcome, seenAt);
      return outcome;
    } finally {
      untrack();
    }
  }

  /**
   * Starts one background refresh of the request's key, unless one is in the air, the key is in
   * backoff after a failed one, or the application is stopping. Never rejects.
   */
  refreshLater(request: ReadRequest): void {
    if (!this.refreshes.wanted(request.key)) return;
    void this.refresh(request)?.catch(noop);
  }

  /** Stale within `staleWhileRevalidate`: handed out at once, refreshed beside its callers. */
  private revalidate(request: ReadRequest, stale: Outcome): Outcome {
    request.telemetry.stale('revalidate');
    this.refreshLater(request);
    return stale;
  }

  /**
   * Stale within `staleIfError`: a load runs in front of the callers (a refresh: its own read,
   * tracking and write, so it can outlive them), who get the stale value if it fails, outlasts
   * `softTimeout`, or the key is in backoff after a failed one.
   */
  private async loadOrStale(request: ReadRequest, stale: Outcome): Promise<Outcome> {
    const { telemetry } = request;
    const refreshed = this.refreshes.backingOff(request.key) ? undefined : this.refresh(request);
    if (!refreshed) {
      telemetry.stale('backoff');
      return stale;
    }
    // As HTTP's stale-if-error, for failures of the server's side: a client error (an HttpException below 500) is the answer.
    let answered = false;
    const fallback = refreshed.then(
      (fresh) => {
        if (!answered) telemetry.miss();
        return fresh;
      },
      (error: unknown) => {
        if (isClientError(error)) return Promise.reject(error);
        if (!answered) telemetry.stale('error');
        return stale;
      },
    );
    const { softTimeout } = request.policy;
    if (softTimeout === undefined) return fallback;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<Outcome>(
      (resolve) =>
        (timer = setTimeout(() => {
          answered = true;
          telemetry.stale('soft_timeout');
          resolve(stale);
        }, softTimeout)),
    );
    try {
      return await Promise.race([fallback, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Joins or starts the key's refresh: a run of its own that loads unless it finds a fresh value.
   * Its caller has the stale value and moves on, and may change the arguments it passed (a DTO
   * reused for the next page): a refresh whose arguments no longer make its key loads nothing,
   * or writes nothing.
   */
  private refresh(request: ReadRequest): Promise<Outcome> | undefined {
    const { key, inv, load, policy } = request;
    const guarded: Invocation['load'] = async (signal) => {
      if (this.refreshes.stopped) throw new RefreshStoppedError(key);
      assertSameKey(request);
      const value = await load(signal);
      assertSameKey(request);
      return value;
    };
    return this.refreshes.run(key, inv.where, (lapsed) => this.run({ ...request, load: guarded, signal: undefined, refresh: true, lapsed }), {
      hardTimeout: request.hardTimeout,
      backoff: policy.refreshBackoff,
    });
  }

  /**
   * `earlier`: this run's first look, when this one follows a wait for another process's load. An
   * entry recorded under the tokens that look saw is fresh for this run's callers, though the
   * tokens have moved on since: its load began after those tokens were written, so after every
   * eviction that had resolved when those callers started (tag-invalidation.ts, rules 1 and 4).
   * It is handed out as of that look, so a caller that joins later rechecks the tokens.
   */
  private async look({ key, inv, tags, freeze, json }: ReadRequest, earlier?: Look): Promise<Look> {
    const readAt = callClock.now();
    // Pending before the read or after it: a retry may land while the read is out, and the read
    // may then have fetched the token it replaced.
    const pendingBefore = this.tags.isPending(tags);
    const seen = earlier?.current;
    const read = await this.layout.read(key, this.tags.tokenKeys(tags), (entry, tokens) => {
      const now = Date.now();
      return this.entries.isFresh(entry, tokens.map(tokenOf), now) || (seen !== undefined && this.entries.isFresh(entry, seen, now));
    });
    const current = read?.tokens.map(tokenOf);
    // An invalidation of these tags that the store has not taken yet: whatever it holds is suspect.
    if (!read || pendingBefore || this.tags.isPending(tags)) return { current, readAt };
    let stored = this.entries.read(key, read.entry, current!);
    let under = { tokens: current!, freshAt: readAt };
    if (stored === undefined && seen !== undefined) {
      stored = this.entries.read(key, read.entry, seen);
      under = { tokens: seen, freshAt: earlier!.readAt };
    }
    if (stored !== undefined) {
      const hit = this.values.fromStored(stored.text, inv.where, key, freeze, json);
      if (hit) return { found: { value: hit, freshAt: under.freshAt, tags, tokens: under.tokens as string[], times: stored.times }, current, readAt };
    }
    return { current, readAt };
  }

  /** A value the request may take from the store when another process has just loaded it. */
  private usable(request: ReadRequest, found: Outcome | undefined): Outcome | undefined {
    if (!found) return undefined;
    const state = request.policy.state(found.times, Date.now());
    return state === 'fresh' || (state === 'due' && !request.refresh) ? found : undefined;
  }

  /** Loads (once for the fleet, with `fleetTimeout`) and writes; a caller with nothing usable joins a refresh in the air instead. */
  private loadFresh(request: ReadRequest, run: TrackedRun, look: Look): Promise<Outcome> {
    if (!request.refresh && !request.own && this.refreshes.running(request.key)) {
      // One that the application's stop cut short leaves its joiners to load on their own.
      const joined = this.refresh(request)?.catch((error: unknown) => (error instanceof RefreshStoppedError ? this.loadOwn(request, run, look, false) : Promise.reject(error)));
      if (joined) {
        request.telemetry.miss();
        return joined;
      }
    }
    return this.loadOwn(request, run, look);
  }

  /** `countMiss`: a foreground load is this run's miss (counted once, where it starts). */
  private loadOwn(request: ReadRequest, run: TrackedRun, look: Look, countMiss = !request.refresh): Promise<Outcome> {
    let current = look.current;
    const load = (leased = false) => {
      if (countMiss) request.telemetry.miss();
      return this.loadAndWrite(request, run, current, leased);
    };
    if (request.fleetTimeout !== undefined && this.fleet?.available) {
      const read = async () => {
        // A refresh waiting for another process's lease stops waiting with the application.
        if (request.refresh && this.refreshes.stopped) throw new RefreshStoppedError(request.key);
        const again = await this.look(request, look);
        current = again.current;
        const found = this.usable(request, again.found);
        // The entry another process's load wrote: this run's hit, though its first read missed.
        if (found && !request.refresh) request.telemetry.hit('shared');
        return found;
      };
      return this.fleet.run(request.key, read, load, request.fleetTimeout, request.telemetry);
    }
    return load();
  }

  private async loadAndWrite(
    { key, inv, tags, load, signal, freeze, json, policy, refresh, lapsed, telemetry }: ReadRequest,
    run: TrackedRun,
    current: (string | undefined)[] | undefined,
    leased: boolean,
  ): Promise<Outcome> {
    const tokens = current && (await this.tags.tokensForLoad(tags, current));
    const loadAt = callClock.now();
    const value = this.values.fromResult(await telemetry.load(() => load(signal), refresh), inv.where, key, freeze, json, true);
    const { times, storeTtl } = policy.stamp(Date.now());
    // Nothing is written without tokens (the store failed), nor by a run evicted here meanwhile:
    // its entry would be stale on arrival, and could replace a fresher one; unless the run holds
    // the fleet's lease of the key, so nobody else loads it, and processes that have waited for
    // it since before the eviction may take it (look's `earlier`). Nor by a refresh once the
    // application is stopping (its stores may be closing), or past its hard timeout (a newer
    // refresh may have written already).
    if (tokens && (!run.detached || leased) && value.text !== undefined && !value.uncached && !(refresh && (this.refreshes.stopped || lapsed?.()))) {
      await this.layout.writeEntry(key, this.entries.write(key, tokens, value.text, times), storeTtl);
    }
    return { value, freshAt: loadAt, tags, tokens, times };
  }

  /** Only a fresh value the store confirmed under known tokens, with no invalidation of its tags since the run began. */
  private keepLocally({ key, tags, policy }: ReadRequest, run: TrackedRun, { value, tokens, times }: Outcome, seenAt: number): void {
    if (!tokens || run.detached || this.tags.isPending(tags)) return;
    // Until it goes stale: a stale value is only handed out after a read of the store.
    const lifetime = times ? times.staleAt - Date.now() : policy.ttl;
    if (lifetime !== undefined && lifetime <= 0) return;
    const kept = this.values.keepable(value);
    if (kept) this.localTier!.keep(key, kept, tags, tokens, seenAt, lifetime, times && policy.refreshAhead !== undefined ? policy.refreshAt(times) : undefined);
  }
}

const noop = () => undefined;

/** The arguments of a refresh's call still make its key (they may have been changed since). */
class RefreshArgumentsChangedError extends Error {
  constructor(key: string) {
    super(`the arguments of the call that started the refresh of "${key}" were changed since: nothing is loaded or written for them`);
    this.name = 'RefreshArgumentsChangedError';
  }
}

function assertSameKey(request: ReadRequest): void {
  let now: string | undefined;
  try {
    now = request.keyNow();
  } catch {
    // A key function that throws now: the arguments are not what they were.
  }
  if (now !== request.key) throw new RefreshArgumentsChangedError(request.key);
}

/** An HttpException (or look-alike) below 500: the client's error, not the server's. */
const isClientError = (error: unknown): boolean => {
  const status = (error as { getStatus?: () => unknown } | null)?.getStatus?.();
  return typeof status === 'number' && status < 500;
};
