import { buildKey, canonical, canonicalArgs, MAX_KEY_LENGTH } from './cache-key.js';

describe('canonical keys', () => {
  it('ignores object key order', () => {
    expect(canonical({ a: 1, b: { c: 2, d: 3 } })).toBe(canonical({ b: { d: 3, c: 2 }, a: 1 }));
  });

  it('tells 1, "1", null, undefined, "null", true and "true" apart', () => {
    const forms = [1, '1', null, undefined, 'null', 'undefined', true, 'true', 1n, '1n', NaN, 'NaN'].map((v) => canonical(v));
    expect(new Set(forms).size).toBe(forms.length);
  });

  it('lets no string forge a separator and pose as other arguments', () => {
    expect(canonicalArgs(['a', 'b'])).not.toBe(canonicalArgs(['a","b']));
    expect(canonicalArgs(['a,b'])).not.toBe(canonicalArgs(['a', 'b']));
    expect(canonical({ a: 'x', b: 'y' })).not.toBe(canonical({ a: 'x","b":"y' }));
    expect(canonical(['1', 2])).not.toBe(canonical([1, '2']));
    expect(canonical({ 'a:b': 1 })).not.toBe(canonical({ a: 'b:1' }));
  });

  it('is stable for Dates, Maps, Sets, BigInts and nested arrays', () => {
    const value = () => ({ at: new Date(5), m: new Map([['b', 2], ['a', 1]]), s: new Set([2, 1]), n: 10n, list: [[1], [2]] });
    expect(canonical(value())).toBe(canonical(value()));
    expect(canonical(new Date(5))).not.toBe(canonical(new Date(5).toISOString()));
    expect(canonical(new Map([['a', 1]]))).not.toBe(canonical({ a: 1 }));
    expect(canonical(new Set([1]))).not.toBe(canonical([1]));
  });

  it('treats class instances (validated DTOs) as their data, and absent and undefined fields alike', () => {
    class Query {
      constructor(
        public severity?: string,
        public limit = 20,
      ) {}
    }
    expect(canonical(new Query('high'))).toBe(canonical({ limit: 20, severity: 'high' }));
    expect(canonical(new Query(undefined))).toBe(canonical({ limit: 20 }));
  });

  it('treats trailing undefined arguments as omitted, and others as values', () => {
    expect(canonicalArgs([1, undefined])).toBe(canonicalArgs([1]));
    expect(canonicalArgs([undefined, 1])).not.toBe(canonicalArgs([1]));
  });

  it('refuses functions, symbols and cycles with a message pointing at `key`', () => {
    expect(() => canonical(() => 1)).toThrow(/key/);
    expect(() => canonical(Symbol('x'))).toThrow(/key/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonical(cyclic)).toThrow(/circular/);
    const shared = { a: 1 };
    expect(() => canonical([shared, shared])).not.toThrow();
  });

  it('puts prefix, class and method in the key, and hashes long keys', () => {
    expect(buildKey('sf:', 'Svc.get', '["x"]')).toBe('sf:Svc.get:["x"]');
    const long = canonicalArgs(['x'.repeat(1000)]);
    const key = buildKey('sf:', 'Svc.get', long);
    expect(key.length).toBeLessThanOrEqual(MAX_KEY_LENGTH);
    expect(key).toMatch(/^sf:Svc\.get:#/);
    expect(buildKey('sf:', 'Svc.get', canonicalArgs(['y'.repeat(1000)]))).not.toBe(key);
  });

  it('gives built-in data a faithful form: URLs by href, bytes by type and content, boxed values by value', () => {
    expect(canonical(new URL('https://a.example/x'))).toBe('L"https://a.example/x"');
    expect(canonical(new URL('https://a.example/x'))).not.toBe(canonical(new URL('https://b.example/x')));
    expect(canonical(new Uint8Array([1, 0]))).not.toBe(canonical(new Uint16Array([1])));
    expect(canonical(Buffer.from('ab'))).toBe(canonical(new Uint8Array([97, 98])));
    expect(canonical(new Uint8Array([1]).buffer)).not.toBe(canonical(new Uint8Array([2]).buffer));
    expect(canonical(new Number(1))).not.toBe(canonical(1));
    expect(canonical(new String('a'))).not.toBe(canonical(new String('b')));
  });

  it('refuses objects whose data it cannot see instead of keying them as {}', () => {
    class Secret {
      #value = 1;
      read() {
        return this.#value;
      }
    }
    // What TypeScript emits for #private below ES2022: the state lives in a WeakMap, read by a getter.
    const cents = new WeakMap<object, number>();
    class Money {
      constructor(amount: number) {
        cents.set(this, amount);
      }
      get cents() {
        return cents.get(this);
      }
    }
    const hidden = Object.defineProperty({}, 'secret', { value: 1, enumerable: false });
    class Hidden {
      constructor() {
        Object.defineProperty(this, 'state', { value: 1, enumerable: false });
      }
    }
    expect(canonical({})).toBe('{}');
    expect(canonical(hidden)).toBe('{}'); // a plain object: its enumerable data is what it says it is
    for (const opaque of [new Error('x'), new Secret(), new WeakMap(), { [Symbol('k')]: 1 }, new Money(1), new Hidden()]) expect(() => canonical(opaque)).toThrow(/key/);
  });

  it('keys an empty DTO instance as its (absent) data: a class without #private fields is plain data', () => {
    class Filter {
      name?: string;
    }
    expect(canonical(new Filter())).toBe('{}');
  });
});
