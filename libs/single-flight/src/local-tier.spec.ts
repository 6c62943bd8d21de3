import fc from 'fast-check';
import { LocalTier, type KeptValue } from './local-tier.js';

const value = (text: string): KeptValue => ({ value: { text }, frozen: true, text });

describe('LocalTier', () => {
  it('keeps and returns a value whose tags were not invalidated since its read began', () => {
    const tier = new LocalTier({ max: 10 }, undefined);
    const seenAt = tier.mark();
    tier.keep('k', value('v1'), ['a'], ['t1'], seenAt, undefined);
    expect(tier.get('k')?.text).toBe('v1');
  });

  it('an invalidation of one of its tags drops it; other tags are unaffected', () => {
    const tier = new LocalTier({ max: 10 }, undefined);
    tier.keep('k1', value('v1'), ['a', 'b'], ['t', 't'], tier.mark(), undefined);
    tier.keep('k2', value('v2'), ['c'], ['t'], tier.mark(), undefined);
    tier.invalidate(['b']);
    expect(tier.get('k1')).toBeUndefined();
    expect(tier.get('k2')?.text).toBe('v2');
  });

  it('does not keep what a read found if an invalidation of its tags came while it was out', () => {
    const tier = new LocalTier({ max: 10 }, undefined);
    const seenAt = tier.mark();
    tier.invalidate(['a']);
    tier.keep('k', value('old'), ['a'], ['t'], seenAt, undefined);
    expect(tier.get('k')).toBeUndefined();
    // A read that began after it is kept.
    tier.keep('k', value('new'), ['a'], ['t2'], tier.mark(), undefined);
    expect(tier.get('k')?.text).toBe('new');
  });

  it('clear: nothing kept or being read before it is valid', () => {
    const tier = new LocalTier({ max: 10 }, undefined);
    const before = tier.mark();
    tier.keep('k', value('v'), [], [], before, undefined);
    tier.clear();
    expect(tier.get('k')).toBeUndefined();
    tier.keep('k', value('v'), [], [], before, undefined);
    expect(tier.get('k')).toBeUndefined();
    tier.keep('k', value('v'), [], [], tier.mark(), undefined);
    expect(tier.get('k')?.text).toBe('v');
  });

  it('while unusable (its bus down) it neither keeps nor returns anything', () => {
    let usable = true;
    const tier = new LocalTier({ max: 10 }, undefined, () => usable);
    tier.keep('k', value('v'), [], [], tier.mark(), undefined);
    usable = false;
    expect(tier.get('k')).toBeUndefined();
    tier.keep('k2', value('v'), [], [], tier.mark(), undefined);
    usable = true;
    expect(tier.get('k2')).toBeUndefined();
  });

  it('a tag it had to forget counts as invalidated when it was: entries seen before are dropped, never kept stale', () => {
    // Room for 10,000 remembered tags: invalidate 10,001 distinct ones.
    const tier = new LocalTier({ max: 10 }, undefined);
    const seenAt = tier.mark();
    tier.keep('k', value('v'), ['first'], ['t'], seenAt, undefined);
    for (let i = 0; i <= 10_000; i++) tier.invalidate([`tag-${i}`]);
    expect(tier.get('k')).toBeUndefined();
  });

  it('an entry lives its ttl, or the tier ttl if shorter', async () => {
    const tier = new LocalTier({ max: 10 }, 20);
    tier.keep('short', value('v'), [], [], tier.mark(), 10);
    tier.keep('long', value('v'), [], [], tier.mark(), 60_000);
    expect(tier.get('short')).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(tier.get('short')).toBeUndefined();
    expect(tier.get('long')).toBeUndefined();
  });

  it('bounded by entries, and by encoded size when asked', () => {
    const tier = new LocalTier({ max: 2, maxSize: 10 }, undefined);
    for (const key of ['a', 'b', 'c']) tier.keep(key, value('12345'), [], [], tier.mark(), undefined);
    expect(tier.size).toBe(2);
    tier.keep('big', value('x'.repeat(11)), [], [], tier.mark(), undefined);
    expect(tier.get('big')).toBeUndefined();
  });

  // The rule, in every order: a value is returned only if no invalidation of one of its tags
  // happened between the start of the read that found it and the get.
  it('never returns a value whose tag was invalidated after its read began (any interleaving)', () => {
    const tags = ['a', 'b', 'c'];
    const step = fc.oneof(
      fc.record({ op: fc.constant('begin' as const), key: fc.integer({ min: 0, max: 3 }), tags: fc.subarray(tags) }),
      fc.record({ op: fc.constant('finish' as const), read: fc.nat() }),
      fc.record({ op: fc.constant('invalidate' as const), tags: fc.subarray(tags, { minLength: 1 }) }),
      fc.record({ op: fc.constant('clear' as const) }),
      fc.record({ op: fc.constant('get' as const), key: fc.integer({ min: 0, max: 3 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const tier = new LocalTier({ max: 100 }, undefined);
        let time = 0;
        const reads: { key: number; tags: string[]; seenAt: number; began: number }[] = [];
        /** When each tag was last invalidated, and when everything was last cleared, in steps. */
        const invalidatedAt = new Map<string, number>();
        let clearedAt = -1;
        for (const s of steps) {
          time++;
          if (s.op === 'begin') reads.push({ key: s.key, tags: s.tags, seenAt: tier.mark(), began: time });
          else if (s.op === 'finish' && reads.length > 0) {
            const read = reads.splice(s.read % reads.length, 1)[0];
            tier.keep(`k${read.key}`, value(`${read.began}`), read.tags, [], read.seenAt, undefined);
          } else if (s.op === 'invalidate') {
            tier.invalidate(s.tags);
            for (const tag of s.tags) invalidatedAt.set(tag, time);
          } else if (s.op === 'clear') {
            tier.clear();
            clearedAt = time;
          } else if (s.op === 'get') {
            const kept = tier.get(`k${s.key}`);
            if (!kept) continue;
            const readBegan = Number(kept.text);
            const entryTags = (kept as unknown as { tags: string[] }).tags;
            expect(clearedAt).toBeLessThan(readBegan);
            for (const tag of entryTags) expect(invalidatedAt.get(tag) ?? -1).toBeLessThan(readBegan);
          }
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
