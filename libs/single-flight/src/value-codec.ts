import * as devalue from 'devalue';
import { types } from 'node:util';
import { dataKind, opaqueReason } from './object-data.js';

/**
 * Turns loader results into strings for the cache store and back.
 * `decode` reads untrusted text (anything may write to a shared Redis): it must never
 * evaluate code, and it throws on text it does not understand (the library counts that as a miss).
 * `encode` throws for a value it cannot represent faithfully (the library then does not cache it).
 */
export interface ValueSerializer {
  encode(value: unknown): string;
  decode(text: string): unknown;
}

/** Thrown for a value that has no faithful encoding or copy: its data would be lost or change type. */
export class UnrepresentableValueError extends Error {}

// devalue knows every built-in data type but Buffer, which it would bring back as a Uint8Array.
// The reducer returns an array: an empty Buffer's '' would read as "not mine".
const reducers = { Buffer: (value: unknown) => Buffer.isBuffer(value) && [value.toString('base64')] };
const revivers = { Buffer: ([base64]: [string]) => Buffer.from(base64, 'base64') };

/**
 * The default: devalue (the format SvelteKit uses for untrusted payloads). It round-trips
 * Date, BigInt, Map, Set, RegExp, URL, URLSearchParams, boxed primitives, typed arrays,
 * ArrayBuffer, Buffer, nested `undefined`, NaN, -0 and repeated references; its `parse`
 * evaluates nothing and rejects `__proto__` keys. It decodes 1.6x faster than superjson
 * (bench/codec.bench.ts); a flight decodes at most twice, whatever its callers.
 */
export const devalueSerializer: ValueSerializer = {
  encode: (value) => devalue.stringify(toPlainData(value), reducers),
  decode: (text) => devalue.parse(text, revivers),
};

/**
 * Class instances (TypeORM entities, DTOs) become plain objects with the same data, so a hit and
 * a miss look the same; function-valued properties (methods) are left out. Copy-on-write: a value
 * that is already plain data is returned as is. Objects whose data the library cannot see
 * (object-data.ts) throw an UnrepresentableValueError instead of turning into `{}`.
 */
export function toPlainData(value: unknown, seen: Map<object, unknown> = new Map()): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return seen.get(value);
  const kind = dataKind(value);
  switch (kind) {
    case 'date':
    case 'regexp':
    case 'bytes':
    case 'url':
    case 'search-params':
    case 'boxed':
      return value;
    case 'json':
      throw new UnrepresentableValueError(`${value.constructor.name} defines toJSON(): its data is not its fields; return value.toJSON() or plain data`);
    case 'opaque':
      throw new UnrepresentableValueError(opaqueReason(value));
    case 'array': {
      const array = value as unknown[];
      seen.set(array, array);
      let copy: unknown[] | undefined;
      array.forEach((item, i) => {
        const plain = toPlainData(item, seen);
        if (plain !== item) (copy ??= array.slice())[i] = plain;
      });
      if (copy) seen.set(array, copy);
      return copy ?? array;
    }
    case 'map': {
      const map = value as Map<unknown, unknown>;
      seen.set(map, map);
      let changed = false;
      const entries: [unknown, unknown][] = [];
      for (const [k, v] of map) {
        const entry: [unknown, unknown] = [toPlainData(k, seen), toPlainData(v, seen)];
        changed ||= entry[0] !== k || entry[1] !== v;
        entries.push(entry);
      }
      return changed ? new Map(entries) : map;
    }
    case 'set': {
      const set = value as Set<unknown>;
      seen.set(set, set);
      let changed = false;
      const items: unknown[] = [];
      for (const item of set) {
        const plain = toPlainData(item, seen);
        changed ||= plain !== item;
        items.push(plain);
      }
      return changed ? new Set(items) : set;
    }
  }
  // 'plain' or 'instance'
  const plain = kind === 'plain';
  const source = value as Record<string, unknown>;
  const out: Record<string, unknown> = plain ? source : {};
  seen.set(value, out);
  let copy: Record<string, unknown> | undefined = plain ? undefined : out;
  for (const key of Object.keys(source)) {
    const item = source[key];
    if (typeof item === 'function') {
      (copy ??= { ...source });
      delete copy[key];
      continue;
    }
    const converted = toPlainData(item, seen);
    if (copy) copy[key] = converted;
    else if (converted !== item) (copy = { ...source })[key] = converted;
  }
  if (copy && plain) seen.set(value, copy);
  return copy ?? value;
}

/** Thrown by clonePlainData for a value that is not the plain data the default serializer decodes to. */
export class NotPlainDataError extends Error {}

/**
 * A deep copy of what devalue decodes to (plain objects, arrays, Date, RegExp, Map, Set, URL,
 * URLSearchParams, boxed primitives, typed arrays, Buffer, ArrayBuffer), keeping shared
 * references and cycles. About 4x cheaper than decoding the text again (bench/codec.bench.ts),
 * so the callers of one flight are served copies of one decoded value.
 */
export function clonePlainData<T>(value: T, seen: Map<object, unknown> = new Map()): T {
  if (typeof value !== 'object' || value === null) return value;
  const known = seen.get(value);
  if (known !== undefined) return known as T;
  if (Array.isArray(value)) {
    const array = new Array(value.length);
    seen.set(value, array);
    for (let i = 0; i < value.length; i++) if (i in value) array[i] = clonePlainData(value[i], seen);
    return array as T;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const object: Record<string, unknown> = proto === null ? Object.create(null) : {};
    seen.set(value, object);
    for (const key of Object.keys(value)) object[key] = clonePlainData((value as Record<string, unknown>)[key], seen);
    return object as T;
  }
  let out: unknown;
  if (types.isMap(value)) {
    const map = new Map();
    seen.set(value, map);
    for (const [k, v] of value as unknown as Map<unknown, unknown>) map.set(clonePlainData(k, seen), clonePlainData(v, seen));
    return map as T;
  } else if (types.isSet(value)) {
    const set = new Set();
    seen.set(value, set);
    for (const item of value as unknown as Set<unknown>) set.add(clonePlainData(item, seen));
    return set as T;
  } else if (types.isDate(value)) out = new Date((value as Date).getTime());
  else if (types.isRegExp(value)) out = new RegExp((value as RegExp).source, (value as RegExp).flags);
  else if (Buffer.isBuffer(value)) out = Buffer.from(value);
  else if (types.isDataView(value)) out = new DataView(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
  else if (ArrayBuffer.isView(value)) out = (value as unknown as Uint8Array).slice();
  else if (types.isArrayBuffer(value)) out = (value as ArrayBuffer).slice(0);
  else if (value instanceof URL) out = new URL(value.href);
  else if (value instanceof URLSearchParams) out = new URLSearchParams(value);
  else if (types.isBoxedPrimitive(value)) out = Object((value as { valueOf(): unknown }).valueOf());
  else throw new NotPlainDataError(`cannot copy a ${proto?.constructor?.name ?? 'foreign'} object`);
  seen.set(value, out);
  return out as T;
}
