import { EntryFormat, readEntry, tokenOf, writeEntry } from './cache-entry.js';
import { EntrySignature } from './entry-signature.js';

/** Tokens as the library reads them from the store. */
const current = (...stored: unknown[]) => stored.map(tokenOf);

describe('cache entry format', () => {
  it('an entry written under tokens is read back, value intact, while exactly those tokens are current', () => {
    const raw = writeEntry(['tok-a', 'tok-b'], '[{"x":1},"a|b,c"]');
    expect(readEntry(raw, current('tok-a', 'tok-b'))).toEqual({ text: '[{"x":1},"a|b,c"]' });
  });

  it('an untagged entry is read back with no tokens', () => {
    expect(readEntry(writeEntry([], '[1]'), [])?.text).toBe('[1]');
  });

  it('a missing token never matches: an entry is a miss while any of its tags has no token in the store', () => {
    const raw = writeEntry(['tok-a', 'tok-b'], '[1]');
    expect(readEntry(raw, current('tok-a', undefined))).toBeUndefined();
    expect(readEntry(raw, current(undefined, undefined))).toBeUndefined();
    expect(readEntry(raw, current('tok-a', null))).toBeUndefined();
    expect(readEntry(raw, current('tok-a', ''))).toBeUndefined();
    // Whatever was written as the token of a tag that had none ('-' in sf1, '' or anything else).
    for (const placeholder of ['-', '', 'undefined']) {
      expect(readEntry(writeEntry([placeholder], '[1]'), current(undefined))).toBeUndefined();
    }
  });

  it('a token changed since the entry was written is a miss', () => {
    const raw = writeEntry(['tok-a', 'tok-b'], '[1]');
    expect(readEntry(raw, current('tok-a', 'tok-b2'))).toBeUndefined();
    expect(readEntry(raw, current('tok-b', 'tok-a'))).toBeUndefined();
    expect(readEntry(raw, current('tok-a'))).toBeUndefined();
    expect(readEntry(raw, current('tok-a', 'tok-b', 'tok-c'))).toBeUndefined();
  });

  it('tokenOf: only a non-empty string without "," or "|" is a token; anything else read from the store is no token', () => {
    expect(tokenOf('AbC_-123')).toBe('AbC_-123');
    for (const foreign of [undefined, null, '', 42, { token: 'x' }, ['x'], 'a,b', 'a|b']) expect(tokenOf(foreign)).toBeUndefined();
  });

  it('a foreign token value cannot forge a match for an entry under two tags', () => {
    // Were 'a,b' taken as a token, an entry under tags (a, b) would match one tag holding "a,b".
    const raw = writeEntry(['a', 'b'], '[1]');
    expect(readEntry(raw, current('a,b'))).toBeUndefined();
  });

  it.each([
    ['absent', undefined],
    ['null', null],
    ['a number', 42],
    ['an object', { value: 'sf2||[1]' }],
    ['a foreign string', 'hello'],
    ['a string without the version', '|[1]'],
    ['a version without its token separator', 'sf2|[1]'],
    ['an sf1 entry with no token yet', 'sf1|-|[1]'],
    ['an sf1 entry with a token', 'sf1|tok-a|[1]'],
    ['an sf1 untagged entry', 'sf1||[1]'],
    ['a timed entry without its times', 'sf3|tok-a|[1]'],
    ['a timed entry with times that are not numbers', 'sf3|x|1e3|tok-a|[1]'],
    ['a timed entry with an empty time', 'sf3||5|tok-a|[1]'],
  ])('%s is a miss', (_, raw) => {
    expect(readEntry(raw, current('tok-a'))).toBeUndefined();
    expect(readEntry(raw, current('-'))).toBeUndefined();
  });

  it('sf1 untagged entries are misses too (they are never read, whatever their tokens)', () => {
    expect(readEntry('sf1||[1]', [])).toBeUndefined();
  });

  it('a timed entry records when it was written and goes stale; whether it is stale is read against a clock', () => {
    const raw = writeEntry(['tok-a'], '[1]', { loadedAt: 1_000, staleAt: 31_000 });
    expect(raw).toBe('sf3|1000|31000|tok-a|[1]');
    expect(readEntry(raw, current('tok-a'))).toEqual({ text: '[1]', times: { loadedAt: 1_000, staleAt: 31_000 } });
    expect(readEntry(raw, current('tok-b'))).toBeUndefined();
    const format = new EntryFormat();
    expect(format.isFresh(raw, ['tok-a'], 30_999)).toBe(true);
    expect(format.isFresh(raw, ['tok-a'], 31_000)).toBe(false);
    expect(format.isFresh(raw, ['tok-b'], 0)).toBe(false);
    expect(format.isFresh(writeEntry(['tok-a'], '[1]'), ['tok-a'], Number.MAX_SAFE_INTEGER)).toBe(true); // untimed: fresh while the store keeps it
  });

  describe('signed (a module secret)', () => {
    const signed = () => new EntryFormat(new EntrySignature('0123456789abcdef0123'));

    it('reads back what it wrote, under its key and tokens only', () => {
      const format = signed();
      const raw = format.write('k1', ['t1'], '[1]');
      expect(raw).toMatch(/^sf2s\|[\w-]{43}\|t1\|\[1\]$/);
      expect(format.read('k1', raw, ['t1'])?.text).toBe('[1]');
      expect(format.read('k1', raw, ['t2'])).toBeUndefined();
      expect(format.read('k2', raw, ['t1'])).toBeUndefined();
      expect(format.isFresh(raw, ['t1'], Date.now())).toBe(true);
      expect(format.isFresh(raw, ['t2'], Date.now())).toBe(false);
    });

    it('a timed entry is signed with its times: changing them, or passing it off as untimed, is a miss', () => {
      const format = signed();
      const raw = format.write('k1', ['t1'], '[1]', { loadedAt: 1_000, staleAt: 2_000 });
      expect(raw).toMatch(/^sf3s\|[\w-]{43}\|1000\|2000\|t1\|\[1\]$/);
      expect(format.read('k1', raw, ['t1'])).toEqual(expect.objectContaining({ text: '[1]', times: { loadedAt: 1_000, staleAt: 2_000 } }));
      expect(signed().read('k1', raw.replace('|2000|', '|9999|'), ['t1'])).toBeUndefined(); // staleness extended by someone without the secret
      // The same signature over an untimed entry with the same text after it.
      const signature = raw.split('|')[1];
      expect(signed().read('k1', `sf2s|${signature}|1000|2000|t1|[1]`, ['1000'])).toBeUndefined();
    });

    it('an unsigned entry, or one changed after signing, is a miss, also after the same key verified another entry', () => {
      const format = signed();
      const raw = format.write('k1', [], '[1]');
      expect(format.read('k1', raw, [])?.text).toBe('[1]'); // remembered as verified
      expect(format.read('k1', writeEntry([], '[1]'), [])).toBeUndefined();
      expect(format.read('k1', raw.replace('[1]', '[2]'), [])).toBeUndefined();
      expect(format.read('k1', raw, [])?.text).toBe('[1]');
      expect(new EntryFormat().read('k1', raw, [])).toBeUndefined(); // unsigned mode does not read signed entries
    });
  });
});
