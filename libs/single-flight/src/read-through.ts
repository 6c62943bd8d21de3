import { tokenOf, type EntryFormat } from './cache-entry.js';
import type { CacheLayout } from './cache-layout.js';
import type { CallerValues, SharedValue } from './caller-value.js';
import type { FleetFlights } from './fleet-flight.js';
import type { Invocation } from './invocation.js';
import type { LocalTier } from './local-tier.js';
import { ttlOf } from './decorators/method-metadata.js';
import { callClock, type Freshness, type TagInvalidation, type TrackedRun } from './tag-invalidation.js';

/** What a read-through (or a plain load) hands its callers. */
export interface Outcome extends Freshness {
  value: SharedValue;
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
}

/** A look at the store: a hit, or the tokens a load would be recorded under (undefined: the store failed). */
interface Look {
  hit?: Outcome;
  current?: (string | undefined)[];
}

/**
 * Read, decode or load, write: one step of the flow. One round trip reads the entry and its tags'
 * current tokens; a valid entry is a hit; otherwise the method runs (once for the fleet, with
 * `fleetTimeout`) and its value is written, recorded under the tokens read before the load began
 * (tag-invalidation.ts says why). What a run finds or loads goes to the local tier, unless one of
 * its tags was invalidated meanwhile.
 */
export class ReadThrough {
  constructor(
    private readonly layout: CacheLayout,
    private readonly tags: TagInvalidation,
    private readonly values: CallerValues,
    private readonly defaultTtl: number | undefined,
    private readonly entries: EntryFormat,
    private readonly localTier?: LocalTier,
    private readonly fleet?: FleetFlights,
  ) {}

  async run(request: ReadRequest): Promise<Outcome> {
    // Tracked from the read on: an eviction meanwhile detaches this run from later callers.
    const { run, untrack } = this.tags.track(request.key, request.tags);
    const seenAt = this.localTier?.mark() ?? 0;
    try {
      let look = await this.look(request);
      let outcome: Outcome;
      if (look.hit) outcome = look.hit;
      else if (request.fleetTimeout !== undefined && this.fleet?.available) {
        const read = async () => ((look = await this.look(request)), look.hit);
        outcome = await this.fleet.run(request.key, read, () => this.loadAndWrite(request, run, look.current), request.fleetTimeout);
      } else outcome = await this.loadAndWrite(request, run, look.current);
      if (request.local) this.keepLocally(request, run, outcome, seenAt);
      return outcome;
    } finally {
      untrack();
    }
  }

  private async look({ key, inv, tags, freeze, json }: ReadRequest): Promise<Look> {
    const readAt = callClock.now();
    // Pending before the read or after it: a retry may land while the read is out, and the read
    // may then have fetched the token it replaced.
    const pendingBefore = this.tags.isPending(tags);
    const read = await this.layout.read(key, this.tags.tokenKeys(tags), (entry, tokens) => this.entries.isCurrent(entry, tokens.map(tokenOf)));
    const current = read?.tokens.map(tokenOf);
    // An invalidation of these tags that the store has not taken yet: whatever it holds is suspect.
    const text = read && !pendingBefore && !this.tags.isPending(tags) ? this.entries.read(key, read.entry, current!) : undefined;
    if (text !== undefined) {
      const hit = this.values.fromStored(text, inv.where, key, freeze, json);
      if (hit) return { hit: { value: hit, freshAt: readAt, tags, tokens: current as string[] } };
    }
    return { current };
  }

  private async loadAndWrite({ key, inv, tags, load, signal, freeze, json }: ReadRequest, run: TrackedRun, current: (string | undefined)[] | undefined): Promise<Outcome> {
    const tokens = current && (await this.tags.tokensForLoad(tags, current));
    const loadAt = callClock.now();
    const value = this.values.fromResult(await load(signal), inv.where, key, freeze, json, true);
    // Nothing is written without tokens (the store failed), nor by a run evicted here meanwhile:
    // its entry would be stale on arrival, and could replace a fresher one.
    if (tokens && !run.detached && value.text !== undefined && !value.uncached) {
      await this.layout.writeEntry(key, this.entries.write(key, tokens, value.text), ttlOf(inv.meta, this.defaultTtl));
    }
    return { value, freshAt: loadAt, tags, tokens };
  }

  /** Only what the store confirmed under known tokens, with no invalidation of its tags since the run began. */
  private keepLocally({ key, inv, tags }: ReadRequest, run: TrackedRun, { value, tokens }: Outcome, seenAt: number): void {
    if (!tokens || run.detached || this.tags.isPending(tags)) return;
    const kept = this.values.keepable(value);
    if (kept) this.localTier!.keep(key, kept, tags, tokens, seenAt, ttlOf(inv.meta, this.defaultTtl));
  }
}
