/**
 * What the library stores per key: the tag tokens the value was loaded under, and the value.
 * `sf2|<token>,<token>|<encoded value>`. One string, so any Keyv store holds it unchanged.
 * (`sf1` entries recorded "no token yet" as '-'; they are ignored.)
 */
const VERSION = 'sf2|';

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
  const end = raw.indexOf('|', VERSION.length);
  if (end < 0) return undefined;
  if (currentTokens.includes(undefined)) return undefined;
  if (raw.slice(VERSION.length, end) !== currentTokens.join(',')) return undefined;
  return raw.slice(end + 1);
}
