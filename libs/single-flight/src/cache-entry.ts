import type { EntrySignature } from './entry-signature.js';

/**
 * What the library stores per key: the tag tokens the value was loaded under, and the value.
 * `sf2|<token>,<token>|<encoded value>`; with a `secret`, `sf2s|<signature>|<token>,<token>|<encoded value>`.
 * One string, so any Keyv store holds it unchanged.
 * (`sf1` entries recorded "no token yet" as '-'; they are ignored.)
 */
const VERSION = 'sf2|';
const SIGNED = 'sf2s|';

/** A tag token as read from the store: a non-empty string, or `undefined` (missing or foreign). */
export const tokenOf = (stored: unknown): string | undefined => (typeof stored === 'string' && stored.length > 0 && !stored.includes(',') && !stored.includes('|') ? stored : undefined);

export function writeEntry(tokens: readonly string[], text: string): string {
  return `${VERSION}${tokens.join(',')}|${text}`;
}

/**
 * The encoded value when `raw` is an entry recorded under exactly `currentTokens`; otherwise
 * (absent, foreign, malformed, a tag invalidated since, or a tag token missing) `undefined`: a miss.
 * A missing token never matches: an entry is only as valid as tokens that exist.
 */
export function readEntry(raw: unknown, currentTokens: readonly (string | undefined)[]): string | undefined {
  if (typeof raw !== 'string' || !raw.startsWith(VERSION)) return undefined;
  return contentAt(raw, VERSION.length, currentTokens);
}

/** The value of the `<tokens>|<value>` part starting at `start`, if its tokens are `currentTokens`. */
function contentAt(raw: string, start: number, currentTokens: readonly (string | undefined)[]): string | undefined {
  const end = raw.indexOf('|', start);
  if (end < 0) return undefined;
  if (currentTokens.includes(undefined)) return undefined;
  if (raw.slice(start, end) !== currentTokens.join(',')) return undefined;
  return raw.slice(end + 1);
}

/** Entries whose signature verified, remembered per key (at most, and only small ones): a hit on an unchanged entry costs a string comparison, not an HMAC. */
const VERIFIED_KEPT = 1_000;
const VERIFIED_MAX_LENGTH = 64 * 1024;

/** Entries as this application writes them: signed when the module has a `secret`. */
export class EntryFormat {
  /** Key -> the last entry that verified under it. */
  private readonly verified = new Map<string, string>();

  constructor(private readonly signature?: EntrySignature) {}

  write(key: string, tokens: readonly string[], text: string): string {
    if (!this.signature) return writeEntry(tokens, text);
    const content = `${tokens.join(',')}|${text}`;
    return `${SIGNED}${this.signature.sign(key, content)}|${content}`;
  }

  /**
   * As readEntry; with a secret, only a signed entry whose signature verifies for this key counts
   * (an unsigned one too is a miss: anyone can write those). Tokens are compared first, so an
   * outdated entry costs no signature check.
   */
  read(key: string, raw: unknown, currentTokens: readonly (string | undefined)[]): string | undefined {
    if (!this.signature) return readEntry(raw, currentTokens);
    const signatureEnd = signatureEndOf(raw);
    if (signatureEnd === undefined) return undefined;
    const text = contentAt(raw as string, signatureEnd + 1, currentTokens);
    if (text === undefined || this.verified.get(key) === raw) return text;
    const signed = raw as string;
    if (!this.signature.verify(key, signed.slice(signatureEnd + 1), signed.slice(SIGNED.length, signatureEnd))) return undefined;
    if (signed.length <= VERIFIED_MAX_LENGTH) {
      this.verified.delete(key);
      this.verified.set(key, signed);
      if (this.verified.size > VERIFIED_KEPT) this.verified.delete(this.verified.keys().next().value!);
    }
    return text;
  }

  /** Whether `raw` was recorded under `currentTokens` (its signature is checked when it is read). */
  isCurrent(raw: unknown, currentTokens: readonly (string | undefined)[]): boolean {
    if (!this.signature) return readEntry(raw, currentTokens) !== undefined;
    const signatureEnd = signatureEndOf(raw);
    return signatureEnd !== undefined && contentAt(raw as string, signatureEnd + 1, currentTokens) !== undefined;
  }
}

/** Where the signature of a signed entry ends (its `|`); undefined for anything else. */
function signatureEndOf(raw: unknown): number | undefined {
  if (typeof raw !== 'string' || !raw.startsWith(SIGNED)) return undefined;
  const end = raw.indexOf('|', SIGNED.length);
  return end < 0 ? undefined : end;
}
