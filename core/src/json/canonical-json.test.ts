import { canonicalJson, sortKeysDeep } from './canonical-json';

describe('canonicalJson', () => {
  it('gives equal values the same text whatever the key order, at every depth', () => {
    const a = { b: 1, a: { d: [{ y: 2, x: 1 }], c: null } };
    const b = { a: { c: null, d: [{ x: 1, y: 2 }] }, b: 1 };
    expect(canonicalJson(a)).toBe('{"a":{"c":null,"d":[{"x":1,"y":2}]},"b":1}');
    expect(canonicalJson(b)).toBe(canonicalJson(a));
  });

  it('keeps array order and serializes as JSON.stringify does', () => {
    expect(canonicalJson([3, 1, 2])).toBe('[3,1,2]');
    expect(canonicalJson({ u: undefined, f: () => 1, d: new Date(0), n: [undefined] })).toBe('{"d":"1970-01-01T00:00:00.000Z","n":[null]}');
    expect(canonicalJson(undefined)).toBe('null');
    expect(canonicalJson('x')).toBe('"x"');
  });

  it('indents like JSON.stringify for generated files', () => {
    expect(canonicalJson({ b: [1], a: true }, 2)).toBe('{\n  "a": true,\n  "b": [\n    1\n  ]\n}');
  });

  it('sortKeysDeep returns plain data with sorted keys for other serializers', () => {
    expect(Object.keys(sortKeysDeep({ b: 1, a: { d: 1, c: 2 } }) as object)).toEqual(['a', 'b']);
    expect(sortKeysDeep({ b: 1, a: { d: 1, c: 2 } })).toEqual({ a: { c: 2, d: 1 }, b: 1 });
  });
});
