import type { Logger } from '@nestjs/common';
import { freezeShared, NotFreezableError } from './frozen-value.js';
import { clonePlainData, devalueSerializer, NotPlainDataError, type ValueSerializer } from './value-codec.js';

/**
 * A flight's value, and how each of its callers gets one of its own:
 * - copies (the default): the first caller gets the decoded value, the others deep copies of a
 *   second decoded value nobody holds, so no two callers ever hold the same object;
 * - frozen (`freeze: true`): every caller gets one deeply frozen value;
 * - a value the serializer cannot encode can be neither copied nor cached: the first caller
 *   gets it, every other caller of the flight runs the method itself.
 */
export interface SharedValue {
  /** The encoded value; undefined for `undefined` and for values that cannot be encoded. */
  readonly text: string | undefined;
  /** For the first caller (frozen: for everyone). */
  readonly first: unknown;
  readonly frozen: boolean;
  /** False for a value that can be neither encoded nor copied. */
  readonly shareable: boolean;
  claimed?: boolean;
  /** Decoded on the second claim; never handed out, only copied. */
  pristine?: unknown;
}

/** Frozen values kept for freeze-mode hits, at most (oldest dropped first). */
const FROZEN_VALUES_KEPT = 1_000;

export class CallerValues {
  /** Methods already warned about, once each. */
  private readonly warned = new Set<string>();
  /** Freeze mode: the last frozen value per key with the text it was decoded from; a hit with the same text reuses it. */
  private readonly frozen = new Map<string, { text: string; value: unknown }>();

  constructor(
    private readonly serializer: ValueSerializer,
    private readonly logger: Logger,
  ) {}

  /** A loader's result. The first caller, too, gets a decoded copy: a miss looks exactly like a hit. */
  fromResult(value: unknown, where: string, key: string, freeze: boolean): SharedValue {
    if (value === undefined) return { text: undefined, first: undefined, frozen: false, shareable: true };
    let text: string;
    try {
      text = this.serializer.encode(value);
    } catch (error) {
      this.warnOnce(where, `${where} returned a value the cache cannot represent faithfully (${(error as Error).message}): it is not cached, and concurrent callers each run the method`);
      return { text: undefined, first: value, frozen: false, shareable: false };
    }
    return this.decoded(text, where, key, freeze);
  }

  /** A stored value; undefined when it does not decode (anything can be in a shared store): a miss. */
  fromStored(text: string, where: string, key: string, freeze: boolean): SharedValue | undefined {
    try {
      return this.decoded(text, where, key, freeze);
    } catch (error) {
      this.logger.warn(`Ignoring an unreadable cache entry under "${key}": ${(error as Error).message}`);
      return undefined;
    }
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
    if (this.serializer === devalueSerializer) {
      shared.pristine ??= this.serializer.decode(shared.text!);
      try {
        return clonePlainData(shared.pristine);
      } catch (error) {
        if (!(error instanceof NotPlainDataError)) throw error;
      }
    }
    return this.serializer.decode(shared.text!);
  }

  private decoded(text: string, where: string, key: string, freeze: boolean): SharedValue {
    if (!freeze) return { text, first: this.serializer.decode(text), frozen: false, shareable: true };
    const known = this.frozen.get(key);
    if (known?.text === text) return { text, first: known.value, frozen: true, shareable: true };
    let value: unknown;
    try {
      value = freezeShared(this.serializer.decode(text));
    } catch (error) {
      if (!(error instanceof NotFreezableError)) throw error;
      this.warnOnce(`${where}:freeze`, `${where}: freeze is on, but the value holds something that cannot be frozen (${error.message}): callers get copies instead`);
      return { text, first: this.serializer.decode(text), frozen: false, shareable: true };
    }
    this.frozen.delete(key);
    this.frozen.set(key, { text, value });
    if (this.frozen.size > FROZEN_VALUES_KEPT) this.frozen.delete(this.frozen.keys().next().value!);
    return { text, first: value, frozen: true, shareable: true };
  }

  private warnOnce(id: string, message: string): void {
    if (this.warned.has(id)) return;
    this.warned.add(id);
    this.logger.warn(message);
  }
}
