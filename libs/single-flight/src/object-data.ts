import { types } from 'node:util';

/**
 * How the library sees the data of an object: the one rule behind keys (cache-key.ts) and cached
 * values (value-codec.ts), so that neither mistakes an object whose data it cannot see for `{}`.
 *
 * - `plain`, `array`, `date`, `regexp`, `map`, `set`, `bytes` (typed arrays, DataView,
 *   ArrayBuffer, Buffer), `url`, `search-params`, `boxed` (new Number(1)...): data by their kind.
 * - `instance`: a class instance whose state is its own enumerable properties (entities, DTOs).
 * - `json`: a class instance that defines `toJSON` (Decimal, Luxon, Mongoose documents): its
 *   data is what `toJSON` says, not its fields.
 * - `opaque`: state the library cannot see: internal slots of other built-ins (Error, Promise,
 *   WeakMap, Blob...), `#private` fields, enumerable symbol keys, and an instance with no own
 *   enumerable data but getters or hidden own properties (state kept in a WeakMap, as compiled
 *   `#private` fields are, or out of sight).
 */
export type DataKind =
  | 'plain'
  | 'array'
  | 'date'
  | 'regexp'
  | 'map'
  | 'set'
  | 'bytes'
  | 'url'
  | 'search-params'
  | 'boxed'
  | 'instance'
  | 'json'
  | 'opaque';

/** Verdicts for class instances, per prototype: reading a class's source once is enough. */
const byPrototype = new WeakMap<object, 'instance' | 'json' | 'opaque'>();
/** Whether a class chain defines getters, per prototype. */
const withGetters = new WeakMap<object, boolean>();

// Reading or writing a #private member always shows in the class's source as `.#name` or `#name in`.
const PRIVATE_MEMBER = /\.#[\p{ID_Start}$_\\]|#[\p{ID_Start}$_\\][\p{ID_Continue}$\u200c\u200d]*\s+in\s/u;

export function dataKind(value: object): DataKind {
  if (Array.isArray(value)) return 'array';
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return hasEnumerableSymbols(value) ? 'opaque' : 'plain';
  if (types.isDate(value)) return 'date';
  if (types.isRegExp(value)) return 'regexp';
  if (types.isMap(value)) return 'map';
  if (types.isSet(value)) return 'set';
  if (ArrayBuffer.isView(value) || types.isAnyArrayBuffer(value)) return 'bytes';
  if (types.isBoxedPrimitive(value)) return 'boxed';
  if (value instanceof URL) return 'url';
  if (value instanceof URLSearchParams) return 'search-params';
  let kind = byPrototype.get(proto);
  if (kind === undefined) byPrototype.set(proto, (kind = classKind(proto)));
  return kind === 'instance' && (hasEnumerableSymbols(value) || hidesItsState(value, proto)) ? 'opaque' : kind;
}

/** No own enumerable data, yet getters to read it or own properties kept out of sight: it lives elsewhere. */
function hidesItsState(value: object, proto: object): boolean {
  if (Object.keys(value).length > 0) return false;
  if (Object.getOwnPropertyNames(value).length > 0) return true;
  let getters = withGetters.get(proto);
  if (getters === undefined) withGetters.set(proto, (getters = definesGetters(proto)));
  return getters;
}

function definesGetters(proto: object): boolean {
  for (let p = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) if (Object.getOwnPropertyDescriptor(p, name)?.get) return true;
  }
  return false;
}

/** Why `value` is opaque, for error messages that tell the user what to do. */
export function opaqueReason(value: object): string {
  const name = (value as { constructor?: { name?: string } }).constructor?.name || 'an object';
  for (let proto = Object.getPrototypeOf(value); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    const source = sourceOf(proto);
    if (source?.includes('[native code]')) return `${name} keeps its state in internal slots of ${ownConstructor(proto)?.name || 'a built-in'}`;
    if (source && PRIVATE_MEMBER.test(source)) return `${name} keeps state in #private fields`;
  }
  if (hasEnumerableSymbols(value)) return `${name} has symbol keys`;
  return `${name} has no own enumerable data, but getters or hidden properties: its state is kept where the library cannot see it`;
}

function classKind(proto: object): 'instance' | 'json' | 'opaque' {
  for (let p = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    const source = sourceOf(p);
    if (source?.includes('[native code]') || (source && PRIVATE_MEMBER.test(source))) return 'opaque';
  }
  return typeof (proto as { toJSON?: unknown }).toJSON === 'function' ? 'json' : 'instance';
}

const ownConstructor = (proto: object): Function | undefined => {
  const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value;
  return typeof ctor === 'function' ? ctor : undefined;
};

const sourceOf = (proto: object): string | undefined => {
  const ctor = ownConstructor(proto);
  return ctor && Function.prototype.toString.call(ctor);
};

function hasEnumerableSymbols(value: object): boolean {
  for (const symbol of Object.getOwnPropertySymbols(value)) if (Object.prototype.propertyIsEnumerable.call(value, symbol)) return true;
  return false;
}
