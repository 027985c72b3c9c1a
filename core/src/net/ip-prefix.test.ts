import { comparePrefixes, formatPrefix, parseAddressWithLength, parsePrefix, prefixContains, prefixesOverlap, whyNotPrefix } from './ip-prefix';
import { parseIp } from './ip-address';

const p = (s: string) => {
  const prefix = parsePrefix(s);
  if (!prefix) throw new Error(`test prefix ${s} does not parse`);
  return prefix;
};

describe('IP prefixes', () => {
  it('clear host bits, and read a bare address as a host prefix', () => {
    expect(formatPrefix(p('10.255.255.255/9'))).toBe('10.128.0.0/9');
    expect(formatPrefix(p('FD00:0:0::5/64'))).toBe('fd00::/64');
    expect(formatPrefix(p('100.64.0.1'))).toBe('100.64.0.1/32');
    expect(formatPrefix(p('100.64.0.1'), { bareHost: true })).toBe('100.64.0.1');
    expect(formatPrefix(p('::ffff:1.2.3.4'), { bareHost: true, mapped: 'hex' })).toBe('::ffff:102:304');
    expect(formatPrefix(p('0.0.0.0/0'))).toBe('0.0.0.0/0');
  });

  it('keep host bits of an interface address', () => {
    const a = parseAddressWithLength('100.64.0.1/10');
    expect(a && { length: a.length, bytes: [...a.ip.bytes] }).toEqual({ length: 10, bytes: [100, 64, 0, 1] });
  });

  it('refuse what is not a prefix, and say why', () => {
    for (const bad of ['10.0.0.1/33', 'fd00::/129', '10.0.0.1/', '10.0.0.1/-1', '10.0.0.1/8/9', '10.0.0/8', 'x/8']) expect(parsePrefix(bad)).toBeNull();
    expect(whyNotPrefix('10.0.0.1/33')).toBe('has a prefix length outside 0..32');
    expect(whyNotPrefix('fd00::/129')).toBe('has a prefix length outside 0..128');
    expect(whyNotPrefix('10.0.0/8')).toBe('is not an IPv4/IPv6 address or CIDR');
  });

  it('tell containment and overlap by the prefix bits only, never across families', () => {
    expect(prefixContains(p('10.0.0.0/8'), p('10.20.0.0/16'))).toBe(true);
    expect(prefixContains(p('10.20.0.0/16'), p('10.0.0.0/8'))).toBe(false);
    expect(prefixContains(p('10.0.0.0/9'), parseIp('10.127.255.255')!)).toBe(true);
    expect(prefixContains(p('10.0.0.0/9'), parseIp('10.128.0.0')!)).toBe(false);
    expect(prefixContains(p('0.0.0.0/0'), parseIp('::')!)).toBe(false);
    expect(prefixContains(p('fd7a::/16'), parseIp('fd7a:0:0::1')!)).toBe(true);
    expect(prefixesOverlap(p('10.1.0.0/16'), p('10.0.0.0/8'))).toBe(true);
    expect(prefixesOverlap(p('10.1.0.0/16'), p('10.2.0.0/16'))).toBe(false);
  });

  it('order IPv4 before IPv6, then by network, then shorter first', () => {
    const sorted = ['fd7a::/16', '10.0.0.0/8', '10.0.0.0/16', '9.0.0.0/8', '::/0'].map(p).sort(comparePrefixes).map((x) => formatPrefix(x));
    expect(sorted).toEqual(['9.0.0.0/8', '10.0.0.0/8', '10.0.0.0/16', '::/0', 'fd7a::/16']);
  });
});
