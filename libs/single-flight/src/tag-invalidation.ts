import type { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { tokenOf } from './cache-entry.js';
import type { CacheLayout } from './cache-layout.js';
import { tagKey } from './cache-key.js';
import { messageOf, showValue } from './errors.js';
import type { FleetBus } from './fleet-bus.js';
import type { FlightRegistry } from './flight-registry.js';
import { InvalidationRetries } from './invalidation-retries.js';
import type { Invocation } from './invocation.js';
import type { LocalTier } from './local-tier.js';
import type { TagList } from './interfaces/method-types.interface.js';

/**
 * Eviction wins, in every process and every store layout. The rules, all in this file:
 *
 * 1. Every tag has a version token in the shared store. An entry records the tokens it was loaded
 *    under and is valid only while every one of them is the current token (cache-entry.ts). A
 *    missing token never matches: a load that finds one missing writes a new token first and
 *    loads after the write is acknowledged. So every load recorded under a token began after that
 *    token was written, and `@CacheEvict` writes a fresh token after the write it follows: once
 *    it resolves, no entry loaded before it is valid, in any process, whatever the clocks say.
 *    Invalidation is one write per tag (no KEYS, no SCAN), and a token that expires or is
 *    evicted by the store only turns entries into misses.
 * 2. Local flights of an evicted tag are detached at once, so later callers here never join them;
 *    so are those of a tag another process evicted, once the bus (`redis`) delivers its message.
 * 3. An invalidation the store did not take is kept and retried until it does
 *    (invalidation-retries.ts); until then this process treats entries under its tags as misses.
 * 4. A flight's value is fresh for the callers that started before it was read (a hit) or before
 *    its load began (a miss). A caller that joined later, when the method has tags, takes it only
 *    once one re-read of the tokens, shared by all such callers of the flight, shows them
 *    unchanged; otherwise it starts over. That covers evictions made by other processes while
 *    the flight was in the air, for at most one extra read per flight.
 * 5. The local tier (local-tier.ts) keeps what a run read or loaded only if no invalidation of its
 *    tags reached this process since the run began, and drops it when one does: an eviction here
 *    counts when it starts and again once the store took the new tokens (a read in between may
 *    have found the old ones); another process's counts when the bus delivers it. An eviction is
 *    published after its tokens are written, and is not done (rule 3 retries it) until Redis took
 *    the message. With the bus down, the local tier is bypassed.
 */

/**
 * Orders calls and reads in this process, never by a clock. Time is counted in turns: a turn is
 * a stretch of code with no I/O in between (it ends with the microtasks queued when it began).
 * A caller cannot learn of an eviction in the middle of a turn, so callers that start in the
 * same turn as a read are as good as started before it: a burst of calls made together costs no
 * re-read, however many join.
 */
let turn = 0;
let turnOpen = false;
const closeTurn = () => void (turnOpen = false);
export const callClock = {
  /** The current turn, opening a new one after any I/O. */
  now(): number {
    if (!turnOpen) {
      turnOpen = true;
      turn++;
      queueMicrotask(closeTurn);
    }
    return turn;
  },
};

/** What a flight's outcome says about its freshness. */
export interface Freshness {
  /** Fresh for callers that started in this turn or before: the read's (hit) or the load's start (miss). */
  freshAt: number;
  tags: readonly string[];
  /** The tokens the value was read or loaded under (undefined: unknown, the store failed). */
  tokens?: readonly string[];
  /** The one re-read for late joiners, shared. */
  recheck?: Promise<boolean>;
}

export const NO_TAGS: readonly string[] = [];

/** Times a caller that joined a flight evicted under it starts over before it reads and loads on its own. */
const MAX_RETRIES = 2;

/** A read or load in progress under some tags; `detached` once one of them is invalidated here. */
export interface TrackedRun {
  /** The flight it belongs to (FlightRegistry), forgotten on eviction. */
  readonly key: string;
  detached: boolean;
}

/** An hour: tokens of rarely evicted tags outlive many short entry lifetimes, so few entries are dropped early. */
const MIN_TOKEN_LIFETIME = 3_600_000;

export class TagInvalidation {
  /** Reads and loads in progress per tag, so an eviction can detach them from later callers. */
  private readonly flightsByTag = new Map<string, Set<TrackedRun>>();
  /** Token creations in progress per tag, shared by the loads that found it missing. */
  private readonly creating = new Map<string, Promise<string | undefined>>();
  /** Token lifetime (ms) in the store; 0: no expiry. Set at start (see tokenLifetime). */
  private tokenTtl = 0;
  /** Invalidations the store did not take, retried (rule 3). */
  readonly retries: InvalidationRetries;
  /** When (Date.now) the shared store last took a token write. */
  private lastTokenWrite = 0;
  /** Whether the token write that settled last failed. */
  private lastTokenWriteFailed = false;

  constructor(
    private readonly layout: CacheLayout | undefined,
    private readonly registry: FlightRegistry,
    private readonly keyPrefix: string,
    logger: Logger,
    private readonly local?: LocalTier,
    private readonly bus?: FleetBus,
  ) {
    this.retries = new InvalidationRetries((tags) => this.writeFreshTokens(tags), logger);
  }

  /**
   * Tokens need not outlive entries for correctness (rule 1), but a token that expires while
   * entries recorded under it are alive turns them into misses early. So it lives at least as long
   * as the longest entry (plus the hard timeout, the latest a load may still write), and at least
   * an hour; `undefined` (an entry lifetime the library cannot know): no expiry.
   */
  static tokenLifetime(longestEntryTtl: number | undefined, hardTimeout: number): number {
    return longestEntryTtl === undefined ? 0 : Math.max(MIN_TOKEN_LIFETIME, longestEntryTtl + hardTimeout);
  }

  setTokenTtl(ms: number): void {
    this.tokenTtl = ms;
  }

  /** The tags of a `@Cached` call; a tag function that fails fails the call (nothing is loaded yet). */
  cachedTags(inv: Invocation): readonly string[] {
    const spec = inv.meta.cached?.tags;
    if (!spec) return NO_TAGS;
    const { tags, failure } = resolveTags(spec, inv.self, inv.fnArgs);
    if (failure) throw new TypeError(`${inv.where} @Cached(): ${messageOf(failure)}`, { cause: failure });
    return tags;
  }

  /** The tags of a `@CacheEvict` call, and what went wrong computing the others. */
  evictedTags(inv: Invocation, result: unknown): { tags: readonly string[]; failure?: unknown } {
    return resolveTags(inv.meta.evict!.tags, inv.self, [result, ...inv.fnArgs]);
  }

  tokenKeys(tags: readonly string[]): string[] {
    return tags.map((tag) => tagKey(this.keyPrefix, tag));
  }

  /**
   * The tokens to record a load under: the current ones, with missing ones created first; undefined
   * if that failed. A token found missing is read once more before it is created: another load may
   * have created it since (a burst of cold keys under one tag), and a second creation would replace
   * it, turning that load's entry into a miss.
   */
  async tokensForLoad(tags: readonly string[], current: readonly (string | undefined)[]): Promise<string[] | undefined> {
    const tokens = [...current];
    let missing = tags.filter((_, i) => tokens[i] === undefined);
    if (missing.length === 0) return tokens as string[];
    const reread = await this.layout!.readTokens(this.tokenKeys(missing));
    if (reread === undefined) return undefined;
    for (let i = 0, m = 0; i < tags.length; i++) if (tokens[i] === undefined) tokens[i] = tokenOf(reread[m++]);
    missing = tags.filter((_, i) => tokens[i] === undefined);
    if (missing.length === 0) return tokens as string[];
    const created = await Promise.all(missing.map((tag) => this.createToken(tag)));
    if (created.includes(undefined)) return undefined;
    for (let i = 0, m = 0; i < tags.length; i++) if (tokens[i] === undefined) tokens[i] = created[m++];
    return tokens as string[];
  }

  /**
   * Detaches local flights of `tags`, then writes a fresh token per tag to the shared store. If the
   * store does not take it (or its circuit is open: no waiting for a store known to be down), the
   * invalidation is queued and retried (rule 3); the cache is never the outage, so the caller's
   * write stands either way.
   */
  /** Whether the store took it now (false: queued for retry). */
  async invalidate(tags: readonly string[]): Promise<boolean> {
    this.dropLocally(tags);
    if (!this.layout || tags.length === 0) return true;
    if (this.storeKnownDown()) {
      this.retries.add(tags);
      return false;
    }
    const mark = this.retries.mark();
    if (await this.writeFreshTokens(tags)) {
      this.retries.settled(tags, mark);
      return true;
    }
    this.retries.add(tags);
    return false;
  }

  /** Another process invalidated `tags` (the bus says so): rule 2, and the local tier drops their entries. */
  evictedElsewhere(tags: readonly string[]): void {
    this.dropLocally(tags);
  }

  /** Rule 2, and the local tier's entries of `tags` (and reads of them in progress) are no longer valid. */
  private dropLocally(tags: readonly string[]): void {
    for (const tag of tags) {
      for (const run of this.flightsByTag.get(tag) ?? []) {
        run.detached = true;
        this.registry.forget(run.key);
      }
    }
    this.local?.invalidate(tags);
  }

  /** Has this process an invalidation of one of `tags` that the store has not taken yet? Its entries are then misses here. */
  isPending(tags: readonly string[]): boolean {
    return this.retries.hasAny(tags);
  }

  /** With the application. */
  stop(): void {
    this.retries.stop();
  }

  /**
   * Known down: the last token write failed, or its circuit is open and no token write has
   * succeeded since it opened (token writes bypass the breaker, so a process that only writes
   * learns of an outage from them). Once a retry gets through, writes wait for the store again:
   * other processes, whose circuits may have closed already, must not read an entry the
   * caller's acknowledged write has outdated.
   */
  private storeKnownDown(): boolean {
    // With nothing queued, a failure that outlived a later success (a hanging retry) says nothing.
    if (this.lastTokenWriteFailed && this.retries.size > 0) return true;
    const since = this.layout!.sharedOpenSince;
    return since !== undefined && this.lastTokenWrite < since;
  }

  /** A fresh token per tag, written to the shared store even while its circuit is open. */
  private async writeFreshTokens(tags: readonly string[]): Promise<boolean> {
    const written = await this.layout!.writeTokens(tags.map((tag) => ({ key: tagKey(this.keyPrefix, tag), value: newToken() })), this.tokenTtl);
    // Reads that began while the write was out may have found the old tokens: nothing they saw is
    // kept locally, whether the store took the write or not (if not, the tags are pending: misses here).
    this.local?.invalidate(tags);
    if (written) {
      // Other processes' local tiers hear of it from the bus; until Redis took the message, it is not done (rule 3 retries both).
      if (this.bus && !(await this.bus.publish({ evicted: tags }))) {
        this.lastTokenWriteFailed = true;
        return false;
      }
    }
    this.lastTokenWriteFailed = !written;
    if (written) this.lastTokenWrite = Date.now();
    return written;
  }

  /** Tracks a read or load under `tags`, made by the flight of `flightKey`, until `untrack` is called. */
  track(flightKey: string, tags: readonly string[]): { run: TrackedRun; untrack: () => void } {
    const mark: TrackedRun = { key: flightKey, detached: false };
    if (tags.length === 0) return { run: mark, untrack: noop };
    for (const tag of tags) {
      let flights = this.flightsByTag.get(tag);
      if (!flights) this.flightsByTag.set(tag, (flights = new Set()));
      flights.add(mark);
    }
    const untrack = () => {
      for (const tag of tags) {
        const flights = this.flightsByTag.get(tag)!;
        flights.delete(mark);
        if (flights.size === 0) this.flightsByTag.delete(tag);
      }
    };
    return { run: mark, untrack };
  }

  /**
   * The outcome a caller that started in turn `startedAt` may take (rule 3): this one if it is
   * fresh for it or a re-read confirms it, else that of `again(lastTry)`: a new flight, or on the
   * last try the caller's own read and load, which began after it started.
   */
  freshFor<T extends Freshness>(outcome: T, startedAt: number, again: (lastTry: boolean) => Promise<T>): T | Promise<T> {
    // The common case, every hit among them, answers without a promise of its own.
    return isFresh(outcome, startedAt) ? outcome : this.retry(outcome, startedAt, again);
  }

  private async retry<T extends Freshness>(outcome: T, startedAt: number, again: (lastTry: boolean) => Promise<T>): Promise<T> {
    for (let retry = 0; !isFresh(outcome, startedAt) && !(await this.confirm(outcome)); retry++) {
      outcome = await again(retry === MAX_RETRIES);
    }
    return outcome;
  }

  /** For late joiners: are the tokens still those the value was read or loaded under? One read per flight. */
  private confirm(outcome: Freshness): Promise<boolean> {
    return (outcome.recheck ??= this.stillCurrent(outcome));
  }

  private async stillCurrent({ tags, tokens }: Freshness): Promise<boolean> {
    if (!tokens || !this.layout || this.isPending(tags)) return false;
    const current = await this.layout.readTokens(this.tokenKeys(tags));
    // (An invalidation made while this read is out concerns callers that started before it: they may take this value.)
    return current !== undefined && current.every((token, i) => tokenOf(token) === tokens[i]);
  }

  private createToken(tag: string): Promise<string | undefined> {
    let pending = this.creating.get(tag);
    if (!pending) {
      const token = newToken();
      pending = this.layout!.writeTokens([{ key: tagKey(this.keyPrefix, tag), value: token }], this.tokenTtl).then((ok) => (ok ? token : undefined));
      this.creating.set(tag, pending);
      void pending.finally(() => this.creating.delete(tag));
    }
    return pending;
  }
}

/** Tags from a tag list: strings kept, functions called with `this` and `args`. Stops at nothing: collects what it can. */
function resolveTags(spec: TagList, self: unknown, args: readonly unknown[]): { tags: readonly string[]; failure?: unknown } {
  const tags = new Set<string>();
  let failure: unknown;
  const add = (value: unknown, source: string) => {
    const list = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(list)) return void (failure ??= new TypeError(`${source} returned ${showValue(value)}, not a tag or an array of tags`));
    for (const tag of list) {
      if (typeof tag !== 'string' || tag.length === 0) failure ??= new TypeError(`${source} returned ${showValue(tag)} among its tags: tags are non-empty strings`);
      // An object turned into a string: almost always `(id) => ...` where `(result, id) => ...` was meant.
      else if (tag.includes('[object ')) failure ??= new TypeError(`${source} returned the tag "${tag}": an object was turned into a string`);
      else tags.add(tag);
    }
  };
  const call = (fn: Function, source: string) => {
    try {
      add(fn.apply(self, args), source);
    } catch (error) {
      failure ??= error ?? new Error(`${source} threw ${String(error)}`);
    }
  };
  if (typeof spec === 'function') call(spec, 'the tags function');
  else for (const item of spec) typeof item === 'function' ? call(item, 'a tag function') : add(item, 'the tags');
  return { tags: [...tags], failure };
}

/** Fresh for a caller that started in the read's (or load's) turn or before, and for any caller of an untagged value. */
const isFresh = (outcome: Freshness, startedAt: number): boolean => startedAt <= outcome.freshAt || outcome.tags.length === 0;

const newToken = (): string => randomBytes(9).toString('base64url');
const noop = () => undefined;
