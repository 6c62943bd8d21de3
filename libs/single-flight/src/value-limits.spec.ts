import { checkValue, DEFAULT_DECODE_LIMITS, ValueLimitError } from './value-limits.js';

const limits = (maxLength: number, maxDepth: number) => ({ maxLength, maxDepth });

describe('checkValue: what a decoded entry may be', () => {
  it('takes the data the library writes: rows with dates, maps, sets, bytes, shared references', () => {
    const shared = { tag: 'p1' };
    const page = { items: [1, 2, 3].map((n) => ({ n, at: new Date(n), a: shared, b: shared })), m: new Map([['k', new Set([1n])]]), bytes: Buffer.from('xyz') };
    expect(() => checkValue(page, DEFAULT_DECODE_LIMITS, false)).not.toThrow();
    expect(() => checkValue('text', DEFAULT_DECODE_LIMITS, true)).not.toThrow();
  });

  it('refuses a cycle, however deep, through arrays, maps and sets', () => {
    const a: unknown[] = [];
    a.push({ m: new Map([['k', new Set([a])]]) });
    expect(() => checkValue(a, DEFAULT_DECODE_LIMITS, false)).toThrow(new ValueLimitError('it holds a cycle'));
  });

  it('counts shared references where they appear (as JSON would write them), in time linear in the distinct objects', () => {
    let bomb: unknown = ['x'.repeat(10)];
    for (let i = 0; i < 60; i++) bomb = [bomb, bomb]; // 2^60 leaves, 61 objects
    expect(() => checkValue(bomb, DEFAULT_DECODE_LIMITS, false)).toThrow(/longer than 8388608 characters/);
    const twice = ['y'.repeat(600)];
    expect(() => checkValue([twice, twice], limits(1_000, 10), false)).toThrow(/longer than 1000/);
    expect(() => checkValue([twice], limits(1_000, 10), false)).not.toThrow();
  });

  it('measures depth along every path, a shared part met deeper too', () => {
    const leaf = [[[1]]]; // 3 levels
    expect(() => checkValue([leaf], limits(1e6, 4), false)).not.toThrow();
    expect(() => checkValue([leaf, [[leaf]]], limits(1e6, 5), false)).toThrow(/nested deeper than 5 levels/);
  });

  it('with json (JSON follows), refuses a BigInt anywhere', () => {
    expect(() => checkValue({ rows: [{ n: 1n }] }, DEFAULT_DECODE_LIMITS, true)).toThrow(/BigInt, which JSON cannot write/);
    expect(() => checkValue(1n, DEFAULT_DECODE_LIMITS, true)).toThrow(/BigInt/);
    expect(() => checkValue({ rows: [{ n: 1n }] }, DEFAULT_DECODE_LIMITS, false)).not.toThrow();
  });

  it('refuses a sparse array longer than the limit before walking it (a few bytes of devalue, no memory, 2^32-1 slots: walking them would take over a minute)', () => {
    const sparse = new Array(2 ** 32 - 1);
    expect(() => checkValue({ items: sparse }, DEFAULT_DECODE_LIMITS, false)).toThrow(/longer than 8388608/);
    expect(() => checkValue(new Array(1_000), limits(1_000, 4), false)).toThrow(/longer than 1000/);
  });

  it('with json, refuses boxed BigInts and BigInt typed arrays too, unless the application taught JSON to write BigInts', () => {
    for (const value of [Object(5n), new BigInt64Array(2), new BigUint64Array(1)]) {
      expect(() => checkValue({ v: value }, DEFAULT_DECODE_LIMITS, true)).toThrow(/BigInt/);
      expect(() => checkValue({ v: value }, DEFAULT_DECODE_LIMITS, false)).not.toThrow();
    }
    const proto = BigInt.prototype as { toJSON?: () => string };
    proto.toJSON = function (this: bigint) {
      return this.toString();
    };
    try {
      expect(() => checkValue({ n: 5n }, DEFAULT_DECODE_LIMITS, true)).not.toThrow();
    } finally {
      delete proto.toJSON;
    }
  });

  it('keeps one running total across the whole value: once it is too long, no further part is walked', () => {
    const first = new Array(150); // holes: 752 characters as JSON counts them
    const second = new Array(150);
    Object.defineProperty(second, 0, {
      get() {
        throw new Error('walked past the limit');
      },
    });
    expect(() => checkValue([first, second], limits(1_000, 4), false)).toThrow(/longer than 1000/);
  });
});
