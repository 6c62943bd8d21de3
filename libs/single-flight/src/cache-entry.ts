/**
 * What the library stores per key: the tag versions the value was loaded under, and the value.
 * `sf1|<token>,<token>|<encoded value>`. One string, so any Keyv store holds it unchanged.
 */
const VERSION = 'sf1|';
/** Stands for "this tag has never been invalidated"; real tokens are base64url and never '-'. */
export const NO_TOKEN = '-';

export function writeEntry(tokens: readonly string[], text: string): string {
  return `${VERSION}${tokens.join(',')}|${text}`;
}

/**
 * The encoded value when `raw` is an entry loaded under exactly `currentTokens`; otherwise
 * (absent, foreign, malformed, or a tag invalidated since) `undefined`: a miss.
 */
export function readEntry(raw: unknown, currentTokens: readonly string[]): string | undefined {
  if (typeof raw !== 'string' || !raw.startsWith(VERSION)) return undefined;
  const end = raw.indexOf('|', VERSION.length);
  if (end < 0) return undefined;
  if (raw.slice(VERSION.length, end) !== currentTokens.join(',')) return undefined;
  return raw.slice(end + 1);
}

export const tokenOf = (stored: unknown): string => (typeof stored === 'string' && stored.length > 0 ? stored : NO_TOKEN);
