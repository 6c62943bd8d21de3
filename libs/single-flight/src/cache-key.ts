import { createHash } from 'node:crypto';

/** Keys longer than this are hashed: Redis and memcached-style stores dislike huge keys. */
export const MAX_KEY_LENGTH = 250;

/**
 * An injective, stable text form of a value: every value gets a type tag, strings
 * are JSON-quoted (so no string can forge a separator), object keys are sorted.
 * Properties set to `undefined` are left out, as JSON does, so an optional DTO field
 * that is absent and one that is `undefined` give the same key.
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
      throw new TypeError(`Cannot derive a cache key from a ${typeof value}; give the decorator a \`key\` function`);
  }
}

function canonicalObject(value: object, seen: Set<object>): string {
  if (value instanceof Date) return `D${Number.isNaN(value.getTime()) ? 'invalid' : value.toISOString()}`;
  if (ArrayBuffer.isView(value)) return `B${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')}`;
  if (value instanceof RegExp) return `R${JSON.stringify(value.toString())}`;
  if (seen.has(value)) throw new TypeError('Cannot derive a cache key from a circular value');
  seen.add(value);
  let text: string;
  if (Array.isArray(value)) {
    text = `[${value.map((item) => canonical(item, seen)).join(',')}]`;
  } else if (value instanceof Map) {
    const entries = [...value].map(([k, v]) => `${canonical(k, seen)}=>${canonical(v, seen)}`);
    text = `M{${entries.sort().join(',')}}`;
  } else if (value instanceof Set) {
    text = `S{${[...value].map((item) => canonical(item, seen)).sort().join(',')}}`;
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

/** Arguments as the key sees them: trailing `undefined`s are the same as omitted arguments. */
export function canonicalArgs(args: readonly unknown[]): string {
  let end = args.length;
  while (end > 0 && args[end - 1] === undefined) end--;
  return canonical(end === args.length ? args : args.slice(0, end));
}

/** `prefix + scope + ':' + canonical`, hashed when too long. The `#` never starts a canonical form. */
export function buildKey(prefix: string, scope: string, canonicalPart: string): string {
  const key = `${prefix}${scope}:${canonicalPart}`;
  if (key.length <= MAX_KEY_LENGTH) return key;
  return `${prefix}${scope}:#${createHash('sha256').update(canonicalPart).digest('base64url')}`;
}

export const tagKey = (prefix: string, tag: string): string => `${prefix}#tag:${tag}`;
