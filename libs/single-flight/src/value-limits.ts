import { types } from 'node:util';

/**
 * What a decoded cache entry may be. A shared store is writable by others, so an entry is only
 * taken when it is something the library itself would have written: it bounds what decoding may
 * produce, since a few hundred bytes of shared references can expand into a response of many
 * megabytes, and nesting into a stack overflow. The same check runs on every value before it is
 * written, so nothing the library writes is refused when read.
 */
export interface DecodeLimits {
  /**
   * Characters at most, both of an entry's stored text and of the value it decodes to, counted as
   * JSON would write it (every shared reference expanded where it appears). Default 8 MiB.
   */
  maxLength?: number;
  /** Nesting depth at most of a value. Default 64. */
  maxDepth?: number;
}

export const DEFAULT_DECODE_LIMITS: Required<DecodeLimits> = { maxLength: 8 * 1024 * 1024, maxDepth: 64 };

/** A value beyond the decode limits, or one JSON cannot write where JSON follows. */
export class ValueLimitError extends Error {}

/** Roughly what JSON writes for objects with no text of their own (a Date, a RegExp, a URL). */
const LEAF_LENGTH = 32;

/**
 * Throws a ValueLimitError for a value beyond `limits`: longer than `maxLength` once its shared
 * references are expanded (a cycle expands forever), or deeper than `maxDepth`. With `json` (a
 * handler's response: JSON follows), also for a BigInt, which JSON cannot write.
 * Linear in the value's distinct objects: shared parts are measured once.
 */
export function checkValue(value: unknown, limits: Required<DecodeLimits>, json: boolean): void {
  if (typeof value !== 'object' || value === null) return void lengthOf(value, json);
  new ValueMeasure(limits, json).measure(value, 1);
}

/** An application may teach JSON to write BigInts (`BigInt.prototype.toJSON`, common with Prisma). */
const jsonWritesBigInt = (): boolean => typeof (BigInt.prototype as { toJSON?: unknown }).toJSON === 'function';

function refuseBigInt(json: boolean): void {
  if (json && !jsonWritesBigInt()) throw new ValueLimitError('it holds a BigInt, which JSON cannot write');
}

/** Characters JSON would take for a primitive. */
function lengthOf(value: unknown, json: boolean): number {
  switch (typeof value) {
    case 'string':
      return value.length + 2;
    case 'bigint':
      refuseBigInt(json);
      return value.toString().length;
    case 'number':
      return 8;
    default:
      return 4;
  }
}

class ValueMeasure {
  /** Expanded length of each object measured; -1: being measured (met again: a cycle). */
  private readonly lengths = new Map<object, number>();
  /** Height of each object measured, for a shared one met again deeper. */
  private readonly heights = new Map<object, number>();
  /** Height of the object measured last. */
  private height = 0;
  /**
   * Characters counted so far across the whole walk (a shared part once per place it appears):
   * checked as it grows, so no part is walked once the whole is known to be too long.
   */
  private total = 0;

  constructor(
    private readonly limits: Required<DecodeLimits>,
    private readonly json: boolean,
  ) {}

  /** The expanded length of `value` at `depth`; its height is left in `this.height`. */
  measure(value: object, depth: number): number {
    const known = this.lengths.get(value);
    if (known !== undefined) {
      if (known === -1) throw new ValueLimitError('it holds a cycle');
      this.height = this.heights.get(value)!;
      this.deepEnough(depth + this.height - 1);
      this.spend(known);
      return known;
    }
    this.deepEnough(depth);
    this.lengths.set(value, -1);
    // `length` is this object's own expanded length (for the memo); every character added to it
    // is also spent, except its members' objects, which spend their own.
    let length = this.spend(2);
    let height = 1;
    const member = (overhead: number, item: unknown) => {
      length += this.spend(overhead) + this.child(item, depth);
      if (this.height >= height) height = this.height + 1;
    };
    // Plain objects and arrays first: they are nearly all there is.
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      for (const key in value) member(key.length + 4, (value as Record<string, unknown>)[key]);
    } else if (Array.isArray(value)) {
      // Before the loop: a sparse array of length 2^32-1 takes a few bytes to encode and no memory;
      // each slot will take two characters at least.
      this.affordable(2 * value.length);
      for (let i = 0; i < value.length; i++) member(1, value[i]);
    } else if (value instanceof Date || value instanceof RegExp || value instanceof URL || value instanceof URLSearchParams || types.isBoxedPrimitive(value)) {
      if (types.isBigIntObject(value)) refuseBigInt(this.json);
      length += this.spend(LEAF_LENGTH + (value instanceof Date ? 0 : String(value).length));
    } else if (ArrayBuffer.isView(value) || types.isArrayBuffer(value)) {
      if (types.isBigInt64Array(value) || types.isBigUint64Array(value)) refuseBigInt(this.json);
      length += this.spend((value as ArrayBuffer).byteLength * 2);
    } else if (types.isMap(value)) {
      this.affordable(4 * (value as Map<unknown, unknown>).size);
      for (const [k, v] of value as Map<unknown, unknown>) {
        member(2, k);
        member(0, v);
      }
    } else if (types.isSet(value)) {
      this.affordable(2 * (value as Set<unknown>).size);
      for (const item of value as Set<unknown>) member(1, item);
    } else {
      for (const key of Object.keys(value)) member(key.length + 4, (value as Record<string, unknown>)[key]);
    }
    this.lengths.set(value, length);
    this.heights.set(value, height);
    this.height = height;
    return length;
  }

  /** A member's length; `this.height` is its height (0 for a primitive). */
  private child(item: unknown, depth: number): number {
    if (typeof item !== 'object' || item === null) {
      this.height = 0;
      return this.spend(lengthOf(item, this.json));
    }
    return this.measure(item, depth + 1);
  }

  /** Counts `n` characters; throws once the total passes maxLength. */
  private spend(n: number): number {
    this.total += n;
    if (this.total > this.limits.maxLength) throw this.tooLong();
    return n;
  }

  /** Throws if `n` more characters would pass maxLength (checked before a loop that will spend them). */
  private affordable(n: number): void {
    if (this.total + n > this.limits.maxLength) throw this.tooLong();
  }

  private tooLong(): ValueLimitError {
    return new ValueLimitError(`it is longer than ${this.limits.maxLength} characters (decodeLimits.maxLength) once its shared references are expanded`);
  }

  private deepEnough(depth: number): void {
    if (depth > this.limits.maxDepth) throw new ValueLimitError(`it is nested deeper than ${this.limits.maxDepth} levels (decodeLimits.maxDepth)`);
  }
}
