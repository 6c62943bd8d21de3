import fc from 'fast-check';
import { jsonDepthExceeds } from './json-body.js';

/** Nesting depth of a parsed JSON value: arrays and objects count, scalars do not. */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

const bytes = (text: string) => Buffer.from(text, 'utf8');

describe('jsonDepthExceeds', () => {
  it('agrees with the parsed depth of any JSON, strings full of brackets, quotes and escapes included', () => {
    const text = fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a', 'é', '😀', '\u0000', '\n') });
    const json = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, text, fc.integer(), fc.constant(null), tie('array'), tie('object')),
      array: fc.array(tie('value'), { maxLength: 4 }),
      object: fc.dictionary(text, tie('value'), { maxKeys: 4 }),
    })).value;
    fc.assert(
      fc.property(json, fc.nat(12), fc.boolean(), (value, max, pretty) => {
        const body = bytes(JSON.stringify(value, null, pretty ? 2 : undefined));
        return jsonDepthExceeds(body, max) === depthOf(value) > max;
      }),
      { numRuns: 2_000 },
    );
  });

  it('stops at the first level too deep, without recursing', () => {
    expect(jsonDepthExceeds(bytes('['.repeat(1_000_000)), 8)).toBe(true);
    expect(jsonDepthExceeds(bytes(`${'['.repeat(8)}${']'.repeat(8)}`), 8)).toBe(false);
    expect(jsonDepthExceeds(bytes(`${'['.repeat(9)}${']'.repeat(9)}`), 8)).toBe(true);
  });

  it('skips what is quoted, escaped quotes and backslashes included', () => {
    expect(jsonDepthExceeds(bytes(`{"a":"\\\\\\"[[[[[[[[[[[[["}`), 2)).toBe(false);
    expect(jsonDepthExceeds(bytes(`{"a":"\\\\","b":[[[]]]}`), 3)).toBe(true);
  });
});
