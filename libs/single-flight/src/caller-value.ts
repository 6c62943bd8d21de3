import type { Logger } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { freezeShared, NotFreezableError } from './frozen-value.js';
import type { KeptValue } from './local-tier.js';
import { clonePlainData, devalueSerializer, NotPlainDataError, type ValueSerializer } from './value-codec.js';
import { checkValue, ValueLimitError, type DecodeLimits } from './value-limits.js';

/**
 * A flight's value, and how each of its callers gets one of its own:
 * - copies (the default): every caller gets a deep copy of a decoded value nobody holds (pristine,
 *   kept per key with its text, so a hit of an unchanged entry copies instead of decoding);
 * - frozen (`freeze: true`): every caller gets one deeply frozen value;
 * - a value the serializer cannot encode can be neither copied nor cached: the first caller
 *   gets it, every other caller of the flight runs the method itself;
 * - a value beyond the decode limits (value-limits.ts) is shared as above, but not cached.
 */
export interface SharedValue {
  /** The encoded value; undefined for `undefined` and for values that cannot be encoded. */
  readonly text: string | undefined;
  /** For the first caller (frozen: for everyone). */
  readonly first: unknown;
  readonly frozen: boolean;
  /** False for a value that can be neither encoded nor copied. */
  readonly shareable: boolean;
  /** Not to be written to the cache, though it has a text (beyond the decode limits). */
  readonly uncached?: boolean;
  claimed?: boolean;
  /** Decoded on the second claim; never handed out, only copied. */
  pristine?: unknown;
}

/** Decoded values kept for hits (least recently used dropped first): at most this many, and this many characters of text. */
const DECODED_KEPT = 1_000;
const DECODED_KEPT_LENGTH = 32 * 1024 * 1024;

/** The last checked value decoded under a key, with its text: a hit that reads the same text decodes nothing. */
interface Decoded {
  text: string;
  /** Frozen: handed out as is. Not frozen: pristine, never handed out, only copied. */
  value: unknown;
  frozen: boolean;
}

export class CallerValues {
  /** Methods already warned about, once each. */
  private readonly warned = new Set<string>();
  private readonly known = new LRUCache<string, Decoded>({ max: DECODED_KEPT, maxSize: DECODED_KEPT_LENGTH, sizeCalculation: (d) => Math.max(1, d.text.length) });

  constructor(
    private readonly serializer: ValueSerializer,
    private readonly logger: Logger,
    private readonly limits: Required<DecodeLimits>,
  ) {}

  /**
   * A loader's result. The first caller, too, gets a decoded copy: a miss looks exactly like a hit.
   * `cached`: it is to be written to the cache, so it must be something a reader would take
   * (value-limits.ts; `json`: JSON follows); one that is not is still shared, but not cached.
   */
  fromResult(value: unknown, where: string, key: string, freeze: boolean, json: boolean, cached: boolean): SharedValue {
    if (value === undefined) return { text: undefined, first: undefined, frozen: false, shareable: true };
    let text: string;
    try {
      text = this.serializer.encode(value);
    } catch (error) {
      this.warnOnce(where, `${where} returned a value the cache cannot represent faithfully (${(error as Error).message}): it is not cached, and concurrent callers each run the method`);
      return { text: undefined, first: value, frozen: false, shareable: false };
    }
    if (!cached) return this.decoded(text, where, key, freeze, json, false);
    try {
      this.checkLength(text);
      return this.decoded(text, where, key, freeze, json);
    } catch (error) {
      // A serializer that cannot read its own output is a bug, left to surface.
      if (!(error instanceof ValueLimitError)) throw error;
      this.warnOnce(`${where}:limits`, `${where} returned a value the cache would refuse to read back (${error.message}): it is not cached; its callers still share it, as copies`);
      return { ...this.decoded(text, where, key, freeze, json, false), uncached: true };
    }
  }

  /**
   * A stored value; undefined when it is not one the library would have written (anything can be in
   * a shared store): unreadable, beyond the decode limits, or not what JSON can send where JSON follows. A miss.
   */
  fromStored(text: string, where: string, key: string, freeze: boolean, json: boolean): SharedValue | undefined {
    try {
      this.checkLength(text);
      return this.decoded(text, where, key, freeze, json);
    } catch (error) {
      this.logger.warn(`Ignoring a cache entry under "${key}" (a miss; the next load replaces it): ${(error as Error).message}`);
      return undefined;
    }
  }

  /** What the local tier may keep of a flight's value: a frozen or a pristine value, never one a caller holds; undefined for what is not cached. */
  keepable(shared: SharedValue): KeptValue | undefined {
    if (shared.text === undefined || !shared.shareable || shared.uncached) return undefined;
    if (shared.frozen) return { value: shared.first, frozen: true, text: shared.text };
    shared.pristine ??= this.serializer.decode(shared.text);
    return { value: shared.pristine, frozen: false, text: shared.text };
  }

  /** A local-tier hit's value for one caller: the frozen value, or a copy of its own. */
  fromKept(kept: KeptValue): unknown {
    return kept.frozen ? kept.value : this.copy(kept.value, kept.text);
  }

  /** This caller's value; `ownLoad` runs the method for a caller that cannot share the flight's. */
  handOut(shared: SharedValue, ownLoad: () => unknown): unknown {
    if (shared.frozen || (shared.text === undefined && shared.shareable)) return shared.first;
    if (!shared.claimed) {
      shared.claimed = true;
      return shared.first;
    }
    if (!shared.shareable) return ownLoad();
    // Later callers: copies of one more decoded value that nobody else holds (the first caller may
    // already have changed its own), cheaper than decoding each time.
    shared.pristine ??= this.serializer.decode(shared.text!);
    return this.copy(shared.pristine, shared.text!);
  }

  /** Checked before decoding: the text alone may be too much. */
  private checkLength(text: string): void {
    if (text.length > this.limits.maxLength) throw new ValueLimitError(`it takes ${text.length} characters, more than ${this.limits.maxLength} (decodeLimits.maxLength)`);
  }

  /** The decoded value, checked against the limits (value-limits.ts) once per text, unless `check` is false. */
  private decode(text: string, json: boolean, check: boolean): unknown {
    const value = this.serializer.decode(text);
    if (check) checkValue(value, this.limits, json);
    return value;
  }

  private decoded(text: string, where: string, key: string, freeze: boolean, json: boolean, check = true): SharedValue {
    const known = this.known.get(key);
    if (known?.text === text && known.frozen === freeze) {
      return freeze ? { text, first: known.value, frozen: true, shareable: true } : { text, first: this.copy(known.value, text), frozen: false, shareable: true, pristine: known.value };
    }
    if (!freeze) {
      // The decoded value stays pristine (kept for later hits, and copied for later callers); the first caller gets a copy.
      const pristine = this.decode(text, json, check);
      // Only checked values: a hit finds its value here and skips the check.
      if (check) this.known.set(key, { text, value: pristine, frozen: false });
      return { text, first: this.copy(pristine, text), frozen: false, shareable: true, pristine };
    }
    let value: unknown;
    try {
      value = freezeShared(this.decode(text, json, check));
    } catch (error) {
      if (!(error instanceof NotFreezableError)) throw error;
      this.warnOnce(`${where}:freeze`, `${where}: freeze is on, but the value holds something that cannot be frozen (${error.message}): callers get copies instead`);
      return { text, first: this.serializer.decode(text), frozen: false, shareable: true };
    }
    if (check) this.known.set(key, { text, value, frozen: true });
    return { text, first: value, frozen: true, shareable: true };
  }

  /** A copy of a pristine value: cloned when the default serializer made it (cheaper than decoding), else decoded again. */
  private copy(pristine: unknown, text: string): unknown {
    if (this.serializer === devalueSerializer) {
      try {
        return clonePlainData(pristine);
      } catch (error) {
        if (!(error instanceof NotPlainDataError)) throw error;
      }
    }
    return this.serializer.decode(text);
  }

  private warnOnce(id: string, message: string): void {
    if (this.warned.has(id)) return;
    this.warned.add(id);
    this.logger.warn(message);
  }
}
