import { showValue, SingleFlightConfigError } from './errors.js';

type Rule = 'positive' | 'window' | 'fraction' | 'openFraction' | 'count' | 'function' | 'boolean' | 'namespace' | 'tags' | 'object' | 'string' | 'secret' | 'objectOrFalse' | 'redis';

const isTag = (t: unknown): boolean => (typeof t === 'string' && t.length > 0) || typeof t === 'function';

/** A signing key: long enough that guessing it is not an option (see EntrySignature). */
const isSecret = (v: unknown): boolean => (typeof v === 'string' || Buffer.isBuffer(v)) && Buffer.byteLength(v) >= 16;

const valid: Record<Rule, (value: unknown) => boolean> = {
  positive: (v) => typeof v === 'number' && Number.isFinite(v) && v > 0,
  count: (v) => typeof v === 'number' && Number.isSafeInteger(v) && v > 0,
  window: (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0,
  fraction: (v) => typeof v === 'number' && v >= 0 && v < 1,
  openFraction: (v) => typeof v === 'number' && v > 0 && v < 1,
  secret: (v) => isSecret(v) || (Array.isArray(v) && v.length > 0 && v.every(isSecret)),
  function: (v) => typeof v === 'function',
  boolean: (v) => typeof v === 'boolean',
  string: (v) => typeof v === 'string',
  // A namespace is part of every key: ':' and '#' would let it pose as another key's scope.
  namespace: (v) => typeof v === 'string' && /^[^:#@\s]+$/.test(v),
  tags: (v) => typeof v === 'function' || (Array.isArray(v) && v.every(isTag)),
  object: (v) => typeof v === 'object' && v !== null,
  objectOrFalse: (v) => v === false || (typeof v === 'object' && v !== null && !Array.isArray(v)),
  // An ioredis client (duck-typed: another copy of ioredis is still one), or a URL.
  redis: (v) => (typeof v === 'string' && /^rediss?:\/\//.test(v)) || (typeof v === 'object' && v !== null && typeof (v as { duplicate?: unknown }).duplicate === 'function' && typeof (v as { publish?: unknown }).publish === 'function'),
};

const expected: Record<Rule, string> = {
  positive: 'a positive number of milliseconds',
  count: 'a positive integer',
  window: 'a number of milliseconds, 0 (off) or more',
  fraction: 'a number in [0, 1)',
  openFraction: 'a number between 0 and 1 (exclusive)',
  secret: 'a string or Buffer of at least 16 bytes (32 random bytes are best), or a non-empty array of them (the first signs, all verify)',
  function: 'a function',
  boolean: 'a boolean',
  string: 'a string',
  namespace: "a non-empty string without ':', '#', '@' or spaces",
  tags: 'an array of non-empty strings and tag functions, or a function returning the tags',
  object: 'an object',
  objectOrFalse: 'an object of options, or false (off)',
  redis: 'an ioredis client or a redis:// (rediss://) URL',
};

/** The freshness options (expiry-policy.ts), the same on `@Cached` and `forRoot`. */
export const EXPIRY_OPTION_RULES = {
  staleWhileRevalidate: 'window',
  staleIfError: 'window',
  softTimeout: 'positive',
  refreshAhead: 'openFraction',
  jitter: 'fraction',
  refreshBackoff: 'positive',
} as const satisfies Record<string, Rule>;

/** Throws a SingleFlightConfigError naming `where` for an unknown option or a value of the wrong kind. */
export function validateOptions(where: string, options: unknown, rules: Record<string, Rule>): void {
  if (typeof options !== 'object' || options === null) {
    throw new SingleFlightConfigError(`${where}: options must be an object, got ${String(options)}`);
  }
  for (const [name, value] of Object.entries(options)) {
    const rule = rules[name];
    if (!rule) {
      throw new SingleFlightConfigError(`${where}: unknown option "${name}" (known: ${Object.keys(rules).join(', ')})`);
    }
    if (value !== undefined && !valid[rule](value)) {
      // Configuration read from the environment arrives as strings.
      const hint = (rule === 'positive' || rule === 'window') && typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)) ? ' (a string: convert it with Number())' : '';
      // A secret is never shown, even a bad one: it may be a real one, cut short.
      const got = rule === 'secret' ? `${Array.isArray(value) ? 'an array' : typeof value}${typeof value === 'string' || Buffer.isBuffer(value) ? ` of ${Buffer.byteLength(value)} bytes` : ''}` : showValue(value);
      throw new SingleFlightConfigError(`${where}: option "${name}" must be ${expected[rule]}, got ${got}${hint}`);
    }
  }
}
