import { assignChecks, checkAdvertisement, comparePrefixText, overlayOverlap, parseRoutePrefix } from './route-rules';

const overlay = { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:7e11:5000::/48' };

describe('parseRoutePrefix', () => {
  it('accepts canonical prefixes and writes them canonically', () => {
    expect(parseRoutePrefix('10.20.0.0/24')).toBe('10.20.0.0/24');
    expect(parseRoutePrefix(' fd00:20:0:0::/64 ')).toBe('fd00:20::/64');
    expect(parseRoutePrefix('192.0.2.7/32')).toBe('192.0.2.7/32');
  });

  it.each([
    ['10.20.0.0', /has no prefix length/],
    ['10.20.0.0/33', /is not an IPv4 or IPv6 CIDR/],
    ['ten.twenty/8', /is not an IPv4 or IPv6 CIDR/],
    ['10.20.0.1/24', /has host bits set; the network is 10\.20\.0\.0\/24/],
    ['0.0.0.0/0', /default route; advertise an exit node with --advertise-exit/],
    ['::/0', /default route/],
    ['127.0.0.0/8', /loopback/],
    ['224.1.0.0/16', /multicast/],
    ['fe80::/64', /link-local/],
  ])('refuses %s', (text, why) => {
    expect(() => parseRoutePrefix(text)).toThrow(why);
    try {
      parseRoutePrefix(text);
    } catch (err) {
      expect((err as { code: string }).code).toBe('TRELLIS_ERR_ROUTE_INVALID');
    }
  });
});

describe('checkAdvertisement', () => {
  it('returns subnets in prefix order, then the exit prefixes, with checks and the priority', () => {
    const out = checkAdvertisement(
      { routes: [{ prefix: 'fd00:20::/64', check: null }, { prefix: '10.30.0.0/16', check: null }, { prefix: '10.20.0.0/24', check: '10.20.0.10' }], priority: 200, exit: true },
      overlay,
    );
    expect(out).toEqual([
      { prefix: '10.20.0.0/24', kind: 'subnet', priority: 200, check: '10.20.0.10' },
      { prefix: '10.30.0.0/16', kind: 'subnet', priority: 200, check: null },
      { prefix: 'fd00:20::/64', kind: 'subnet', priority: 200, check: null },
      { prefix: '0.0.0.0/0', kind: 'exit', priority: 200, check: null },
      { prefix: '::/0', kind: 'exit', priority: 200, check: null },
    ]);
  });

  it('refuses a prefix inside or around the overlay, naming the overlay prefix', () => {
    expect(() => checkAdvertisement({ routes: [{ prefix: '100.64.1.0/24', check: null }], priority: 100, exit: false }, overlay)).toThrow(
      /100\.64\.1\.0\/24 overlaps the overlay 100\.64\.0\.0\/10/,
    );
    expect(() => checkAdvertisement({ routes: [{ prefix: '100.0.0.0/8', check: null }], priority: 100, exit: false }, overlay)).toThrow(/overlaps the overlay/);
    expect(() => checkAdvertisement({ routes: [{ prefix: 'fd7a:7e11:5000:1::/64', check: null }], priority: 100, exit: false }, overlay)).toThrow(
      /overlaps the overlay fd7a:7e11:5000::\/48/,
    );
    expect(overlayOverlap('10.0.0.0/8', overlay)).toBeNull();
  });

  it('refuses overlapping or repeated prefixes of one gateway', () => {
    const ad = (prefixes: string[]) => ({ routes: prefixes.map((prefix) => ({ prefix, check: null })), priority: 100, exit: false });
    expect(() => checkAdvertisement(ad(['10.20.0.0/16', '10.20.5.0/24']), overlay)).toThrow(/routes 10\.20\.0\.0\/16 and 10\.20\.5\.0\/24 of this node overlap/);
    expect(() => checkAdvertisement(ad(['10.20.0.0/24', '10.20.0.0/24']), overlay)).toThrow(/listed twice/);
  });

  it('refuses a check outside its prefix, a bad priority and too many routes', () => {
    expect(() => checkAdvertisement({ routes: [{ prefix: '10.20.0.0/24', check: '10.21.0.1' }], priority: 1, exit: false }, overlay)).toThrow(/not inside the route 10\.20\.0\.0\/24/);
    expect(() => checkAdvertisement({ routes: [], priority: 1001, exit: false }, overlay)).toThrow(/priority 1001/);
    expect(() => checkAdvertisement({ routes: [], priority: 1.5, exit: false }, overlay)).toThrow(/priority 1.5/);
    const many = Array.from({ length: 65 }, (_, i) => ({ prefix: `10.${i}.0.0/16`, check: null }));
    expect(() => checkAdvertisement({ routes: many, priority: 1, exit: false }, overlay)).toThrow(/at most 64/);
  });
});

describe('assignChecks', () => {
  it('gives each check to the most specific prefix that holds it', () => {
    expect(assignChecks(['10.20.0.0/24', '10.30.0.0/16'], ['10.30.1.1', '10.20.0.10'])).toEqual([
      { prefix: '10.20.0.0/24', check: '10.20.0.10' },
      { prefix: '10.30.0.0/16', check: '10.30.1.1' },
    ]);
  });

  it('refuses a check outside every prefix, or two for one prefix', () => {
    expect(() => assignChecks(['10.20.0.0/24'], ['192.0.2.1'])).toThrow(/inside none of the advertised routes \(10\.20\.0\.0\/24\)/);
    expect(() => assignChecks(['10.20.0.0/24'], ['10.20.0.1', '10.20.0.2'])).toThrow(/has two checks/);
    expect(() => assignChecks(['10.20.0.0/24'], ['nope'])).toThrow(/not an IP address/);
  });
});

describe('comparePrefixText', () => {
  it('orders IPv4 first, then by address, shorter first', () => {
    expect(['fd00::/64', '10.20.0.0/24', '10.3.0.0/16', '10.20.0.0/16'].sort(comparePrefixText)).toEqual(['10.3.0.0/16', '10.20.0.0/16', '10.20.0.0/24', 'fd00::/64']);
  });
});
