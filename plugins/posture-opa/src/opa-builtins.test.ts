import { OpaHostBuiltins, parseSemver, semverCompare } from './opa-builtins';

describe('semverCompare', () => {
  // Expected values are what `opa eval 'semver.compare(a, b)'` (opa v1.22.2) answers.
  it.each([
    ['v1.2.3', '1.2.3', 0],
    ['1.0.0-alpha', '1.0.0-alpha.1', -1],
    ['1.0.0-alpha.beta', '1.0.0-beta', -1],
    ['1.0.0-rc.11', '1.0.0-rc.2', 1],
    ['1.0.0+b1', '1.0.0+b2', 0],
    ['1.0.0-a', '1.0.0-1', 1],
    ['1.0.0-rc.1', '1.0.0', -1],
    ['6.1.0', '5.10.0', 1],
    ['12.0.0', '9.0.0', 1],
    ['0.2.0', '0.10.0', -1],
    ['99999999999999999999.0.0', '99999999999999999998.0.0', 1],
  ])('compares %s with %s as %d', (a, b, want) => {
    expect(semverCompare(a, b)).toBe(want);
    expect(semverCompare(b, a)).toBe(want === 0 ? 0 : -want);
  });

  it('gives no value for what is not semver, as non-strict opa does', () => {
    for (const bad of ['1.2', '01.2.3', '1.2.3-01', 'x', '', 12, null, '6.1.0-18-amd64 ']) {
      expect(parseSemver(bad)).toBeNull();
      expect(semverCompare(bad, '1.0.0')).toBeUndefined();
    }
    // A kernel release is valid semver with a pre-release; the policies normalize it first.
    expect(semverCompare('6.1.0-18-amd64', '6.1.0')).toBe(-1);
  });
});

describe('OpaHostBuiltins', () => {
  it('reads the clock once per query, in nanoseconds', () => {
    let now = 1_700_000_000_000;
    let reads = 0;
    const host = new OpaHostBuiltins(() => {
      reads++;
      return now;
    });
    // JSON text as bytes: opa-wasm copies an ArrayBuffer result in without stringifying it.
    const nowNsJson = host.implementations['time.now_ns']!;
    const nowNs = () => JSON.parse(Buffer.from(nowNsJson() as ArrayBuffer).toString('ascii')) as number;
    host.beginQuery();
    expect(nowNs()).toBe(1_700_000_000_000 * 1_000_000);
    now += 5_000;
    expect(nowNs()).toBe(1_700_000_000_000 * 1_000_000);
    expect(reads).toBe(1);
    host.beginQuery();
    expect(nowNs()).toBe(1_700_000_005_000 * 1_000_000);
    expect(reads).toBe(2);
  });

  it('gives time.now_ns as the exact integer, which a double may not hold', () => {
    const host = new OpaHostBuiltins(() => 1_765_113_475_123);
    const text = (impl: unknown) => Buffer.from(impl as ArrayBuffer).toString('ascii');
    expect(text(host.implementations['time.now_ns']!())).toBe('1765113475123000000');
    expect(text(new OpaHostBuiltins(() => 0).implementations['time.now_ns']!())).toBe('0');
  });

  it('exposes semver.compare by its Rego name', () => {
    const impl = new OpaHostBuiltins().implementations['semver.compare']!;
    expect(impl('1.0.0', '2.0.0')).toBe(-1);
    expect(impl('bad', '2.0.0')).toBeUndefined();
  });
});
