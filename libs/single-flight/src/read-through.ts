import { tokenOf, type EntryFormat } from './cache-entry.js';
import type { CacheLayout } from './cache-layout.js';
import type { CallerValues, SharedValue } from './caller-value.js';
import type { Invocation } from './invocation.js';
import { ttlOf } from './decorators/method-metadata.js';
import { callClock, type Freshness, type TagInvalidation } from './tag-invalidation.js';

/** What a read-through (or a plain load) hands its callers. */
export interface Outcome extends Freshness {
  value: SharedValue;
}

/**
 * Read, decode or load, write: one step of the flow. One round trip reads the entry and its tags'
 * current tokens; a valid entry is a hit; otherwise the method runs and its value is written,
 * recorded under the tokens read before the load began (tag-invalidation.ts says why).
 */
export class ReadThrough {
  constructor(
    private readonly layout: CacheLayout,
    private readonly tags: TagInvalidation,
    private readonly values: CallerValues,
    private readonly defaultTtl: number | undefined,
    private readonly entries: EntryFormat,
  ) {}

  /** `load` runs the method (inv.load, or a wrapper of it). */
  async run(key: string, inv: Invocation, tags: readonly string[], load: Invocation['load'], signal: AbortSignal | undefined, freeze: boolean, json: boolean): Promise<Outcome> {
    // Tracked from the read on: an eviction meanwhile detaches this run from later callers.
    const { run, untrack } = this.tags.track(key, tags);
    try {
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
        if (hit) return { value: hit, freshAt: readAt, tags, tokens: current as string[] };
      }
      const tokens = read && (await this.tags.tokensForLoad(tags, current!));
      const loadAt = callClock.now();
      const value = this.values.fromResult(await load(signal), inv.where, key, freeze, json, true);
      // Nothing is written without tokens (the store failed), nor by a run evicted here meanwhile:
      // its entry would be stale on arrival, and could replace a fresher one.
      if (tokens && !run.detached && value.text !== undefined && !value.uncached) {
        await this.layout.writeEntry(key, this.entries.write(key, tokens, value.text), ttlOf(inv.meta, this.defaultTtl));
      }
      return { value, freshAt: loadAt, tags, tokens };
    } finally {
      untrack();
    }
  }
}
