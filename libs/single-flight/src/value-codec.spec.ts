import { types } from 'node:util';
import { freezeShared } from './frozen-value.js';
import { clonePlainData, devalueSerializer, NotPlainDataError, toPlainData } from './value-codec.js';

const { encode, decode } = devalueSerializer;

describe('value codec', () => {
  it('round-trips Date, BigInt, Map, Set, nested undefined, null, NaN and repeated references', () => {
    const shared = { x: 1 };
    const value = { at: new Date(1_700_000_000_000), big: 2n ** 70n, m: new Map([['k', new Date(0)]]), s: new Set([1, 2]), u: undefined, n: null, nan: NaN, a: shared, b: shared };
    const back = decode(encode(value)) as typeof value;
    expect(types.isDate(back.at)).toBe(true);
    expect(back.at.getTime()).toBe(value.at.getTime());
    expect(back.big).toBe(2n ** 70n);
    expect(types.isMap(back.m)).toBe(true);
    expect(types.isDate(back.m.get('k'))).toBe(true);
    expect(types.isSet(back.s)).toBe(true);
    expect('u' in back).toBe(true);
    expect(back.n).toBeNull();
    expect(back.nan).toBeNaN();
    expect(back.a).toBe(back.b);
  });

  it('turns class instances (entities) into plain objects with the same data', () => {
    class Incident {
      id = 'a';
      createdAt = new Date(0);
      tags = [new (class Tag { name = 't'; })()];
      describe() { return this.id; }
    }
    const back = decode(encode({ items: [new Incident()] })) as { items: Record<string, unknown>[] };
    expect(Object.getPrototypeOf(back.items[0])).toBe(Object.prototype);
    expect(back.items[0]).toEqual({ id: 'a', createdAt: new Date(0), tags: [{ name: 't' }] });
  });

  it('leaves plain data untouched (copy on write)', () => {
    const plain = { a: [1, { b: new Date(0) }], m: new Map([[1, 2]]) };
    expect(toPlainData(plain)).toBe(plain);
  });

  it('never evaluates code and refuses __proto__ from the store', () => {
    expect(() => decode('[{"__proto__":1},{"polluted":2}]')).toThrow();
    expect(() => decode('not devalue')).toThrow();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('deep-freezes for the shared mode', () => {
    const value = freezeShared({ a: { b: [1] } });
    expect(Object.isFrozen(value.a.b)).toBe(true);
    expect(() => (value.a.b as number[]).push(2)).toThrow(TypeError);
  });

  it('copies decoded data deeply, with its types, shared references and cycles', () => {
    const shared = { n: 1 };
    const source = decode(encode({ a: shared, b: shared, at: new Date(5), m: new Map([['k', new Set([1n])]]), re: /x/gi, bytes: new Uint8Array([1, 2]), list: [1, , 3] })) as Record<string, any>;
    source.self = source;
    const copy = clonePlainData(source);
    expect(copy).not.toBe(source);
    expect(copy.a).toBe(copy.b);
    expect(copy.a).not.toBe(source.a);
    expect(copy.self).toBe(copy);
    expect(types.isDate(copy.at) && copy.at.getTime()).toBe(5);
    expect(copy.at).not.toBe(source.at);
    expect(types.isMap(copy.m) && types.isSet(copy.m.get('k')) && [...(copy.m.get('k') as Set<bigint>)]).toEqual([1n]);
    expect(copy.re.flags).toBe('gi');
    expect([...copy.bytes]).toEqual([1, 2]);
    expect(1 in copy.list).toBe(false);
    copy.a.n = 2;
    expect(source.a.n).toBe(1);
  });

  it('refuses objects that are not plain data, so the caller decodes instead', () => {
    expect(() => clonePlainData({ when: new (class Custom {})() })).toThrow(NotPlainDataError);
  });
});
