import * as devalue from 'devalue';

/**
 * Turns loader results into strings for the cache store and back.
 * `decode` reads untrusted text (anything may write to a shared Redis): it must never
 * evaluate code, and it throws on text it does not understand (the library counts that as a miss).
 */
export interface ValueSerializer {
  encode(value: unknown): string;
  decode(text: string): unknown;
}

/**
 * The default: devalue (the format SvelteKit uses for untrusted payloads). It round-trips
 * Date, BigInt, Map, Set, RegExp, typed arrays, nested `undefined`, NaN, -0 and repeated
 * references; its `parse` evaluates nothing and rejects `__proto__` keys. It decodes 1.6x faster
 * than superjson (bench/codec.bench.ts); a flight decodes at most twice, whatever its callers.
 */
export const devalueSerializer: ValueSerializer = {
  encode: (value) => devalue.stringify(toPlainData(value)),
  decode: (text) => devalue.parse(text),
};

const isPlainObject = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

/**
 * Class instances (TypeORM entities, DTOs) become plain objects with the same data, so a hit and
 * a miss look the same. Copy-on-write: a value that is already plain data is returned as is.
 */
export function toPlainData(value: unknown, seen: Map<object, unknown> = new Map()): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Date || value instanceof RegExp || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
  if (seen.has(value)) return seen.get(value);
  if (Array.isArray(value)) {
    seen.set(value, value);
    let copy: unknown[] | undefined;
    value.forEach((item, i) => {
      const plain = toPlainData(item, seen);
      if (plain !== item) (copy ??= value.slice())[i] = plain;
    });
    if (copy) seen.set(value, copy);
    return copy ?? value;
  }
  if (value instanceof Map) {
    seen.set(value, value);
    let changed = false;
    const entries: [unknown, unknown][] = [];
    for (const [k, v] of value) {
      const entry: [unknown, unknown] = [toPlainData(k, seen), toPlainData(v, seen)];
      changed ||= entry[0] !== k || entry[1] !== v;
      entries.push(entry);
    }
    return changed ? new Map(entries) : value;
  }
  if (value instanceof Set) {
    seen.set(value, value);
    let changed = false;
    const items: unknown[] = [];
    for (const item of value) {
      const plain = toPlainData(item, seen);
      changed ||= plain !== item;
      items.push(plain);
    }
    return changed ? new Set(items) : value;
  }
  const plain = isPlainObject(value);
  const out: Record<string, unknown> = plain ? (value as Record<string, unknown>) : {};
  seen.set(value, out);
  let copy: Record<string, unknown> | undefined = plain ? undefined : out;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    if (typeof item === 'function' || typeof item === 'symbol') {
      (copy ??= { ...(value as Record<string, unknown>) });
      delete copy[key];
      continue;
    }
    const converted = toPlainData(item, seen);
    if (copy) copy[key] = converted;
    else if (converted !== item) (copy = { ...(value as Record<string, unknown>) })[key] = converted;
  }
  return copy ?? value;
}

/** For the opt-in shared mode: one value for every caller, and a mutation throws instead of leaking. */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  // Map and Set contents cannot be frozen in place; their entries are, their membership is not.
  Object.freeze(value);
  if (value instanceof Map) value.forEach((v, k) => (deepFreeze(k), deepFreeze(v)));
  else if (value instanceof Set) value.forEach((v) => deepFreeze(v));
  else if (!ArrayBuffer.isView(value)) for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  return value;
}

/** Thrown by clonePlainData for a value that is not the plain data the default serializer decodes to. */
export class NotPlainDataError extends Error {}

/**
 * A deep copy of what devalue decodes to (plain objects, arrays, Date, RegExp, Map, Set, typed
 * arrays), keeping shared references and cycles. About 4x cheaper than decoding the text again
 * (bench/codec.bench.ts), so the callers of one flight are served copies of one decoded value.
 */
export function clonePlainData<T>(value: T, seen: Map<object, unknown> = new Map()): T {
  if (typeof value !== 'object' || value === null) return value;
  const known = seen.get(value);
  if (known !== undefined) return known as T;
  let out: unknown;
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
  if (value instanceof Date) out = new Date(value.getTime());
  else if (value instanceof RegExp) out = new RegExp(value.source, value.flags);
  else if (value instanceof Map) {
    const map = new Map();
    seen.set(value, map);
    for (const [k, v] of value) map.set(clonePlainData(k, seen), clonePlainData(v, seen));
    return map as T;
  } else if (value instanceof Set) {
    const set = new Set();
    seen.set(value, set);
    for (const item of value) set.add(clonePlainData(item, seen));
    return set as T;
  } else if (ArrayBuffer.isView(value) && !(value instanceof DataView)) out = (value as unknown as Uint8Array).slice();
  else if (value instanceof ArrayBuffer) out = value.slice(0);
  else throw new NotPlainDataError(`cannot copy a ${proto?.constructor?.name ?? 'foreign'} object`);
  seen.set(value, out);
  return out as T;
}
