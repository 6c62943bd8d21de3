import type { EntrySignature } from './entry-signature.js';
import type { EntryTimes } from './expiry-policy.js';

/**
 * What the library stores per key: the tag tokens the value was loaded under, the value, and
 * (for methods that serve stale values or refresh ahead) when it was written and goes stale.
 * - `sf2|<token>,<token>|<encoded value>`
 * - `sf3|<loadedAt>|<staleAt>|<token>,<token>|<encoded value>` (times: Date.now, ms)
 * - with a `secret`, `sf2s|<signature>|...` and `sf3s|<signature>|...`, the rest as above.
 * One string, so any Keyv store holds it unchanged. (`sf1` entries recorded "no token yet" as '-'; they are ignored.)
 */
const FORMATS = [
  { prefix: 'sf2|', timed: false, signed: false },
  { prefix: 'sf3|', timed: true, signed: false },
  { prefix: 'sf2s|', timed: false, signed: true },
  { prefix: 'sf3s|', timed: true, signed: true },
] as const;

/** A stored value that matched the current tokens. */
export interface StoredValue {
  /** The encoded value. */
  readonly text: string;
  /** Undefined for an entry that records none: fresh while the store keeps it. */
  readonly times?: EntryTimes;
}

interface Parsed extends StoredValue {
  /** Signed entries: the signature, and what it covers. */
  readonly signature?: string;
  readonly signed?: string;
}

/** A tag token as read from the store: a non-empty string, or `undefined` (missing or foreign). */
export const tokenOf = (stored: unknown): string | undefined => (typeof stored === 'string' && stored.length > 0 && !stored.includes(',') && !stored.includes('|') ? stored : undefined);

export function writeEntry(tokens: readonly string[], text: string, times?: EntryTimes): string {
  return `${times ? 'sf3|' : 'sf2|'}${contentOf(tokens, text, times)}`;
}

const contentOf = (tokens: readonly string[], text: string, times: EntryTimes | undefined): string =>
  times ? `${times.loadedAt}|${times.staleAt}|${tokens.join(',')}|${text}` : `${tokens.join(',')}|${text}`;

/**
 * The value of an unsigned entry recorded under exactly `currentTokens`; otherwise (absent, foreign,
 * malformed, a tag invalidated since, or a tag token missing) `undefined`: a miss.
 * A missing token never matches: an entry is only as valid as tokens that exist.
 */
export function readEntry(raw: unknown, currentTokens: readonly (string | undefined)[]): StoredValue | undefined {
  const parsed = parse(raw, currentTokens);
  return parsed && !parsed.signature ? parsed : undefined;
}

const DIGITS = /^\d{1,16}$/;

/** Format and tokens checked, the signature not. */
function parse(raw: unknown, currentTokens: readonly (string | undefined)[]): Parsed | undefined {
  if (typeof raw !== 'string' || !raw.startsWith('sf')) return undefined;
  const format = FORMATS.find((f) => raw.startsWith(f.prefix));
  if (!format) return undefined;
  let at = format.prefix.length;
  let signature: string | undefined;
  if (format.signed) {
    const end = raw.indexOf('|', at);
    if (end < 0) return undefined;
    signature = raw.slice(at, end);
    at = end + 1;
  }
  const content = at;
  let times: EntryTimes | undefined;
  if (format.timed) {
    const a = raw.indexOf('|', at);
    const b = a < 0 ? -1 : raw.indexOf('|', a + 1);
    if (b < 0) return undefined;
    const loadedAt = raw.slice(at, a);
    const staleAt = raw.slice(a + 1, b);
    if (!DIGITS.test(loadedAt) || !DIGITS.test(staleAt)) return undefined;
    times = { loadedAt: Number(loadedAt), staleAt: Number(staleAt) };
    at = b + 1;
  }
  const end = raw.indexOf('|', at);
  if (end < 0 || currentTokens.includes(undefined) || raw.slice(at, end) !== currentTokens.join(',')) return undefined;
  const text = raw.slice(end + 1);
  if (!signature) return { text, times };
  // A timed signature covers its format too: an entry cannot be passed off as the other kind.
  return { text, times, signature, signed: format.timed ? `sf3|${raw.slice(content)}` : raw.slice(content) };
}

/** Entries whose signature verified, remembered per key (at most, and only small ones): a hit on an unchanged entry costs a string comparison, not an HMAC. */
const VERIFIED_KEPT = 1_000;
const VERIFIED_MAX_LENGTH = 64 * 1024;

/** Entries as this application writes them: signed when the module has a `secret`. */
export class EntryFormat {
  /** Key -> the last entry that verified under it. */
  private readonly verified = new Map<string, string>();

  constructor(private readonly signature?: EntrySignature) {}

  write(key: string, tokens: readonly string[], text: string, times?: EntryTimes): string {
    if (!this.signature) return writeEntry(tokens, text, times);
    const content = contentOf(tokens, text, times);
    const signature = this.signature.sign(key, times ? `sf3|${content}` : content);
    return `${times ? 'sf3s|' : 'sf2s|'}${signature}|${content}`;
  }

  /**
   * As readEntry; with a secret, only a signed entry whose signature verifies for this key counts
   * (an unsigned one too is a miss: anyone can write those). Tokens are compared first, so an
   * outdated entry costs no signature check.
   */
  read(key: string, raw: unknown, currentTokens: readonly (string | undefined)[]): StoredValue | undefined {
    if (!this.signature) return readEntry(raw, currentTokens);
    const parsed = parse(raw, currentTokens);
    if (!parsed?.signature) return undefined;
    if (this.verified.get(key) === raw) return parsed;
    if (!this.signature.verify(key, parsed.signed!, parsed.signature)) return undefined;
    const signed = raw as string;
    if (signed.length <= VERIFIED_MAX_LENGTH) {
      this.verified.delete(key);
      this.verified.set(key, signed);
      if (this.verified.size > VERIFIED_KEPT) this.verified.delete(this.verified.keys().next().value!);
    }
    return parsed;
  }

  /** Whether `raw` was recorded under `currentTokens` and is not stale at `now` (its signature is checked when it is read). */
  isFresh(raw: unknown, currentTokens: readonly (string | undefined)[], now: number): boolean {
    const parsed = parse(raw, currentTokens);
    return parsed !== undefined && Boolean(parsed.signature) === Boolean(this.signature) && (parsed.times === undefined || now < parsed.times.staleAt);
  }
}
