import { types } from 'node:util';

/** Thrown for a value that cannot be frozen (typed arrays, ArrayBuffer, URL): it is handed out as copies instead. */
export class NotFreezableError extends Error {}

const refuse = (what: string) =>
  function (): never {
    throw new TypeError(`Cannot change a shared cached ${what} (freeze: true): copy it first`);
  };

/**
 * Object.freeze cannot stop a Date's setters or a Map's `set`: their state lives in internal
 * slots. Frozen values get these subclasses' prototypes instead, so the usual mutators throw while
 * `util.types.isDate`/`isMap`/`isSet` and `instanceof` still hold. (`Date.prototype.setTime.call(d)`
 * or `Map.prototype.set.call(m)` still reaches the slot: no JavaScript object can prevent that.)
 */
class ReadonlyDate extends Date {}
for (const name of Object.getOwnPropertyNames(Date.prototype)) {
  if (name.startsWith('set')) Object.defineProperty(ReadonlyDate.prototype, name, { value: refuse('Date') });
}
class ReadonlyMap extends Map {}
class ReadonlySet extends Set {}
for (const name of ['set', 'delete', 'clear']) Object.defineProperty(ReadonlyMap.prototype, name, { value: refuse('Map') });
for (const name of ['add', 'delete', 'clear']) Object.defineProperty(ReadonlySet.prototype, name, { value: refuse('Set') });

/**
 * For the opt-in shared mode: one value for every caller, frozen all the way down (in place: it is
 * a freshly decoded value nobody else holds). Throws NotFreezableError for typed arrays and
 * ArrayBuffers, which JavaScript cannot freeze, and for URLs, whose setters write internal slots.
 */
export function freezeShared<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  if (ArrayBuffer.isView(value) || types.isAnyArrayBuffer(value) || value instanceof URL || value instanceof URLSearchParams) {
    throw new NotFreezableError(`a ${value.constructor.name} cannot be frozen`);
  }
  if (types.isDate(value)) Object.setPrototypeOf(value, ReadonlyDate.prototype);
  else if (types.isMap(value)) {
    Object.setPrototypeOf(value, ReadonlyMap.prototype);
    (value as unknown as Map<unknown, unknown>).forEach((v, k) => (freezeShared(k), freezeShared(v)));
  } else if (types.isSet(value)) {
    Object.setPrototypeOf(value, ReadonlySet.prototype);
    (value as unknown as Set<unknown>).forEach((v) => freezeShared(v));
  }
  Object.freeze(value);
  for (const key of Object.keys(value)) freezeShared((value as Record<string, unknown>)[key]);
  return value;
}
