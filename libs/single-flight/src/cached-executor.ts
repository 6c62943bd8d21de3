import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { buildKey, canonical, canonicalArgs, tagKey } from './cache-key.js';
import { readEntry, tokenOf, writeEntry } from './cache-entry.js';
import { SingleFlightConfigError } from './errors.js';
import { RUN_WITHOUT_SIGNAL, type FlightRegistry } from './flight-registry.js';
import type { MethodExecutor, MethodMetadata } from './decorators/method-trampoline.js';
import { readMethodMetadata } from './decorators/method-trampoline.js';
import type { ResilientCache } from './resilient-cache.js';
import { clonePlainData, deepFreeze, devalueSerializer, NotPlainDataError, type ValueSerializer } from './value-codec.js';

/** One call of a decorated method or handler, as the flow needs it. */
export interface Invocation {
  /** `Class.method`, for messages. */
  where: string;
  /** `namespace-or-Class.method`: the key's scope. */
  scope: string;
  meta: MethodMetadata;
  /** What `key` and `tags` functions receive. */
  fnArgs: readonly unknown[];
  /** What the default key is made of. */
  keyParts: readonly unknown[];
  /** The caller's own cancellation. */
  signal?: AbortSignal;
  /** Runs the method; `signal` is the flight's (or, without a flight, the caller's own). */
  load(signal: AbortSignal | undefined): unknown;
}

/** A flight's outcome: the encoded value every caller decodes its copy from. */
interface Loaded {
  /** `undefined` for an `undefined` result, or one the serializer could not encode (then shared as is). */
  text: string | undefined;
  /** A decoded copy for the first caller (in freeze mode, the one frozen value for all). */
  first: unknown;
  claimed?: boolean;
  /** Decoded on the second claim; never handed out, only copied. */
  pristine?: unknown;
}

export interface ExecutorSettings {
  keyPrefix: string;
  ttl?: number;
  timeout?: number;
  hardTimeout: number;
  freeze: boolean;
  enabled: boolean;
  serializer: ValueSerializer;
}

const isAbortSignal = (value: unknown): value is AbortSignal =>
  typeof value === 'object' && value !== null && Object.prototype.toString.call(value) === '[object AbortSignal]';

/**
 * The cache -> coalesce -> load -> populate flow behind the decorators, one per application.
 * Provider methods reach it through their trampoline, controller handlers through CachedInterceptor.
 */
export class CachedExecutor implements MethodExecutor {
  private readonly logger = new Logger('SingleFlight');
  private readonly metadata = new WeakMap<Function, MethodMetadata>();
  /** Reads and loads in progress per tag, so an eviction can detach them from later callers. */
  private readonly flightsByTag = new Map<string, Set<{ key: string }>>();
  private readonly unencodable = new Set<string>();
  /**
   * Freeze mode: the last frozen value per key with the text it was decoded from. A hit whose
   * stored text is the same (the store is still the judge) skips decoding altogether.
   */
  private readonly frozen = new Map<string, { text: string; value: unknown }>();

  constructor(
    private readonly registry: FlightRegistry,
    private readonly cache: ResilientCache | undefined,
    private readonly settings: ExecutorSettings,
  ) {}

  /** Fails at start, naming the method, for what only the running application can tell. */
  assertUsable(where: string, meta: MethodMetadata): void {
    if ((meta.cached || meta.evict) && !this.cache) {
      const decorator = meta.cached ? '@Cached()' : '@CacheEvict()';
      throw new SingleFlightConfigError(
        `${where}: ${decorator} needs a cache, but no CACHE_MANAGER is provided. Import CacheModule.register({ isGlobal: true }) from @nestjs/cache-manager.`,
      );
    }
  }

  /** Stops listening to the cache's events (application shutdown). */
  close(): void {
    this.cache?.close();
  }

  /** Entry point of provider trampolines. */
  call(instance: object, trampoline: Function, original: Function, args: unknown[]): Promise<unknown> {
    let meta = this.metadata.get(trampoline);
    if (!meta) this.metadata.set(trampoline, (meta = readMethodMetadata(trampoline)!));
    const className = (instance.constructor as { name?: string } | undefined)?.name ?? 'anonymous';
    const namespace = meta.cached?.namespace ?? meta.singleFlight?.namespace ?? className;
    let signal: AbortSignal | undefined;
    let keyArgs: readonly unknown[] = args;
    if (args.some(isAbortSignal)) {
      signal = args.find(isAbortSignal);
      keyArgs = args.filter((arg) => !isAbortSignal(arg));
    }
    return this.execute({
      where: `${className}.${original.name}`,
      scope: `${namespace}.${original.name}`,
      meta,
      fnArgs: keyArgs,
      keyParts: keyArgs,
      signal,
      // The method sees the flight's signal where its caller passed one, never the caller's own.
      load: (loadSignal) => original.apply(instance, signal ? args.map((arg) => (isAbortSignal(arg) ? loadSignal : arg)) : args),
    });
  }

  async execute(inv: Invocation): Promise<unknown> {
    const { cached, singleFlight, evict } = inv.meta;
    if (!this.settings.enabled) return inv.load(inv.signal);
    if (evict) return this.loadThenEvict(inv);
    const key = this.keyOf(inv);
    const freeze = cached?.freeze ?? singleFlight?.freeze ?? this.settings.freeze;
    const produce = (signal: AbortSignal | undefined) =>
      cached ? this.readThrough(key, inv, signal, freeze) : this.load(key, inv, signal, freeze);
    let loaded: Loaded;
    if (singleFlight) {
      const options = {
        timeout: singleFlight.timeout ?? this.settings.timeout,
        hardTimeout: singleFlight.hardTimeout ?? this.settings.hardTimeout,
        signal: inv.signal,
      };
      // Only a caller that passed a signal makes the method take one: the flight's.
      loaded = await (inv.signal ? this.registry.run(key, produce, options) : this.registry[RUN_WITHOUT_SIGNAL](key, () => produce(undefined), options));
    } else {
      loaded = await produce(inv.signal);
    }
    return this.copyFor(loaded, freeze);
  }

  /** Invalidates `tags` everywhere the store is shared, and detaches local loads that began before. */
  async invalidate(tags: readonly string[]): Promise<void> {
    for (const tag of tags) {
      for (const flight of this.flightsByTag.get(tag) ?? []) this.registry.forget(flight.key);
    }
    if (!this.cache || tags.length === 0) return;
    // ttl 0: no expiry. A token must outlive every entry that recorded the one before it.
    await this.cache.mustWrite(tags.map((tag) => ({ key: tagKey(this.settings.keyPrefix, tag), value: newToken(), ttl: 0 })));
  }

  private keyOf(inv: Invocation): string {
    const keyFn = inv.meta.cached?.key ?? inv.meta.singleFlight?.key;
    const part = keyFn ? canonical(keyFn(...inv.fnArgs)) : canonicalArgs(inv.keyParts);
    return buildKey(this.settings.keyPrefix, inv.scope, part);
  }

  private async readThrough(key: string, inv: Invocation, signal: AbortSignal | undefined, freeze: boolean): Promise<Loaded> {
    const cache = this.cache!;
    const tags = this.tagsOf(inv);
    // Tracked from the read on: an eviction meanwhile detaches this flight from later callers.
    const untrack = this.track(key, tags);
    try {
      // One round trip for the entry and the current versions of its tags.
      const stored = await cache.mget(tags.length ? [key, ...tags.map((tag) => tagKey(this.settings.keyPrefix, tag))] : [key]);
      const tokens = stored?.slice(1).map(tokenOf);
      const text = stored ? readEntry(stored[0], tokens!) : undefined;
      if (text !== undefined) {
        const hit = this.decodeStored(text, key, freeze);
        if (hit) return hit;
      }
      const loaded = await this.load(key, inv, signal, freeze);
      // Recorded with the versions read before the load: if a tag was invalidated meanwhile, the
      // entry is stale on arrival and no reader will take it. Without them (store down), no write.
      if (tokens && loaded.text !== undefined) {
        await cache.set(key, writeEntry(tokens, loaded.text), inv.meta.cached!.ttl ?? this.settings.ttl);
      }
      return loaded;
    } finally {
      untrack();
    }
  }

  private async load(key: string, inv: Invocation, signal: AbortSignal | undefined, freeze: boolean): Promise<Loaded> {
    return this.encode(await inv.load(signal), inv.where, freeze, key);
  }

  private track(key: string, tags: readonly string[]): () => void {
    if (tags.length === 0) return () => undefined;
    const mark = { key };
    for (const tag of tags) {
      let flights = this.flightsByTag.get(tag);
      if (!flights) this.flightsByTag.set(tag, (flights = new Set()));
      flights.add(mark);
    }
    return () => {
      for (const tag of tags) {
        const flights = this.flightsByTag.get(tag)!;
        flights.delete(mark);
        if (flights.size === 0) this.flightsByTag.delete(tag);
      }
    };
  }

  private async loadThenEvict(inv: Invocation): Promise<unknown> {
    const result = await inv.load(inv.signal);
    const { tags } = inv.meta.evict!;
    await this.invalidate(this.checkTags(typeof tags === 'function' ? tags(result, ...inv.fnArgs) : tags, inv.where));
    return result;
  }

  private tagsOf(inv: Invocation): readonly string[] {
    const tags = inv.meta.cached?.tags;
    if (!tags) return [];
    return this.checkTags(typeof tags === 'function' ? tags(...inv.fnArgs) : tags, inv.where);
  }

  private checkTags(tags: unknown, where: string): readonly string[] {
    if (!Array.isArray(tags) || !tags.every((tag) => typeof tag === 'string' && tag.length > 0)) {
      throw new TypeError(`${where}: the tags function must return an array of non-empty strings, got ${JSON.stringify(tags)}`);
    }
    return tags;
  }

  private encode(value: unknown, where: string, freeze: boolean, key: string): Loaded {
    if (value === undefined) return { text: undefined, first: undefined };
    let text: string;
    try {
      text = this.settings.serializer.encode(value);
    } catch (error) {
      if (!this.unencodable.has(where)) {
        this.unencodable.add(where);
        this.logger.warn(`${where} returned a value the serializer cannot encode (${(error as Error).message}): not cached, callers share it as is`);
      }
      return { text: undefined, first: value };
    }
    // The first caller, too, gets a decoded copy: a miss looks exactly like a hit.
    return this.decoded(text, key, freeze);
  }

  /** A stored value that does not decode is a miss, not a crash: anything can be in a shared store. */
  private decodeStored(text: string, key: string, freeze: boolean): Loaded | undefined {
    try {
      return this.decoded(text, key, freeze);
    } catch (error) {
      this.logger.warn(`Ignoring an unreadable cache entry under "${key}": ${(error as Error).message}`);
      return undefined;
    }
  }

  private decoded(text: string, key: string, freeze: boolean): Loaded {
    if (!freeze) return { text, first: this.settings.serializer.decode(text) };
    const known = this.frozen.get(key);
    if (known?.text === text) return { text, first: known.value };
    const value = deepFreeze(this.settings.serializer.decode(text));
    this.frozen.delete(key);
    this.frozen.set(key, { text, value });
    if (this.frozen.size > FROZEN_VALUES_KEPT) this.frozen.delete(this.frozen.keys().next().value!);
    return { text, first: value };
  }

  private copyFor(loaded: Loaded, freeze: boolean): unknown {
    if (loaded.text === undefined || freeze) return loaded.first;
    if (!loaded.claimed) {
      loaded.claimed = true;
      return loaded.first;
    }
    // Later callers of the flight: copies of one more decoded value that nobody else holds (the
    // first caller may already have changed its own), cheaper than decoding each time.
    if (this.settings.serializer === devalueSerializer) {
      loaded.pristine ??= this.settings.serializer.decode(loaded.text);
      try {
        return clonePlainData(loaded.pristine);
      } catch (error) {
        if (!(error instanceof NotPlainDataError)) throw error;
      }
    }
    return this.settings.serializer.decode(loaded.text);
  }
}

/** Frozen values kept for freeze-mode hits, at most (oldest dropped first). */
const FROZEN_VALUES_KEPT = 1_000;

const newToken = (): string => randomBytes(9).toString('base64url');
