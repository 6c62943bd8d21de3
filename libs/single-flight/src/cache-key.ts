import { createHash } from 'node:crypto';
import { types } from 'node:util';
import { CacheKeyError } from './errors.js';
import type { Invocation } from './invocation.js';
import { keyFunctionOf } from './decorators/method-metadata.js';
import { dataKind, opaqueReason } from './object-data.js';

/** Keys longer than this are hashed: Redis and memcached-style stores dislike huge keys. */
export const MAX_KEY_LENGTH = 250;

/**
 * An injective, stable text form of a value: every value gets a type tag, strings are
 * JSON-quoted (so no string can forge a separator), object keys are sorted. Properties set to
 * `undefined` are left out, as JSON does, so an optional DTO field that is absent and one that is
 * `undefined` give the same key. An object whose data it cannot see (object-data.ts) is refused,
 * never keyed as `{}`.
 */
export function canonical(value: unknown, seen: Set<object> = new Set()): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isNaN(value) ? 'NaN' : `${value}`;
    case 'bigint':
      return `${value}n`;
    case 'boolean':
      return value ? 'T' : 'F';
    case 'undefined':
      return 'U';
    case 'object':
      if (value === null) return 'N';
      return canonicalObject(value, seen);
    default:
      throw new TypeError(`cannot derive a cache key from a ${typeof value}; give the decorator a \`key\` function`);
  }
}

function canonicalObject(value: object, seen: Set<object>): string {
  const kind = dataKind(value);
  switch (kind) {
    case 'date':
      return `D${Number.isNaN((value as Date).getTime()) ? 'invalid' : (value as Date).toISOString()}`;
    case 'regexp':
      return `R${JSON.stringify(String(value))}`;
    case 'bytes':
      return `B${Object.prototype.toString.call(value).slice(8, -1)}:${bytesOf(value).toString('base64')}`;
    case 'url':
      return `L${JSON.stringify((value as URL).href)}`;
    case 'search-params':
      return `Q${JSON.stringify(String(value))}`;
    case 'boxed':
      return `O${canonical((value as { valueOf(): unknown }).valueOf(), seen)}`;
    case 'opaque':
      throw new TypeError(`cannot derive a cache key from this argument: ${opaqueReason(value)}; give the decorator a \`key\` function`);
  }
  if (seen.has(value)) throw new TypeError('cannot derive a cache key from a circular value; give the decorator a `key` function');
  seen.add(value);
  let text: string;
  if (kind === 'array') {
    text = `[${(value as unknown[]).map((item) => canonical(item, seen)).join(',')}]`;
  } else if (kind === 'map') {
    const entries = [...(value as Map<unknown, unknown>)].map(([k, v]) => `${canonical(k, seen)}=>${canonical(v, seen)}`);
    text = `M{${entries.sort().join(',')}}`;
  } else if (kind === 'set') {
    text = `S{${[...(value as Set<unknown>)].map((item) => canonical(item, seen)).sort().join(',')}}`;
  } else if (kind === 'json') {
    // The class says what its data is; its name keeps it apart from the same data in a plain value.
    text = `J${JSON.stringify(value.constructor.name)}${canonical((value as { toJSON(): unknown }).toJSON(), seen)}`;
  } else {
    // Plain objects and class instances (validated DTOs) alike: their own enumerable data.
    const parts: string[] = [];
    for (const key of Object.keys(value).sort()) {
      const item = (value as Record<string, unknown>)[key];
      if (item !== undefined) parts.push(`${JSON.stringify(key)}:${canonical(item, seen)}`);
    }
    text = `{${parts.join(',')}}`;
  }
  seen.delete(value);
  return text;
}

const bytesOf = (value: object): Buffer =>
  types.isAnyArrayBuffer(value)
    ? Buffer.from(value as ArrayBuffer)
    : Buffer.from((value as ArrayBufferView).buffer, (value as ArrayBufferView).byteOffset, (value as ArrayBufferView).byteLength);

/** Arguments as the key sees them: trailing `undefined`s are the same as omitted arguments. */
export function canonicalArgs(args: readonly unknown[]): string {
  let end = args.length;
  while (end > 0 && args[end - 1] === undefined) end--;
  return canonical(end === args.length ? args : args.slice(0, end));
}

/**
 * `prefix + scope + ':' + canonical`, hashed when too long. The `#` never starts a canonical form.
 * With a `vary` value the canonical part is `canonical(vary) + ':' + canonical(args)`: a complete
 * canonical term ends unambiguously, so the pair stays injective.
 */
export function buildKey(prefix: string, scope: string, canonicalPart: string): string {
  const key = `${prefix}${scope}:${canonicalPart}`;
  if (key.length <= MAX_KEY_LENGTH) return key;
  return `${prefix}${scope}:#${createHash('sha256').update(canonicalPart).digest('base64url')}`;
}

export const tagKey = (prefix: string, tag: string): string => `${prefix}#tag:${tag}`;

/**
 * The key of one call: its scope, the key function's result or the arguments, and the module's
 * `vary` value read now, in the caller's context. Throws a CacheKeyError naming the method.
 */
export function callKey(inv: Invocation, prefix: string, vary: (() => unknown) | undefined): string {
  const keyFn = keyFunctionOf(inv.meta);
  let part: string;
  try {
    part = keyFn ? canonical(keyFn.apply(inv.self, inv.fnArgs as unknown[])) : canonicalArgs(inv.keyParts);
  } catch (error) {
    throw new CacheKeyError(`${inv.where}: ${(error as Error).message}`, { cause: error });
  }
  if (vary) {
    try {
      part = `${canonical(vary())}:${part}`;
    } catch (error) {
      throw new CacheKeyError(`${inv.where}: the module's vary() failed: ${(error as Error).message}`, { cause: error });
    }
  }
  return buildKey(prefix, inv.scope, part);
}
