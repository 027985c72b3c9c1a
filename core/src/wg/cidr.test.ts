import { TrellisError } from '../errors';
import { formatIp, parseIp } from '../net';
import { canonicalAddress, canonicalCidr, canonicalEndpoint } from './cidr';

describe('cidr', () => {
  it('masks host bits and normalizes spelling like wireguard-go', () => {
    expect(canonicalCidr('10.1.2.3/24')).toBe('10.1.2.0/24');
    expect(canonicalCidr('FD00:0:0::5/64')).toBe('fd00::/64');
    expect(canonicalCidr('100.100.0.2')).toBe('100.100.0.2/32');
    expect(canonicalCidr('fd7a:115c:a1e0::1')).toBe('fd7a:115c:a1e0::1/128');
    expect(canonicalCidr('0.0.0.0/0')).toBe('0.0.0.0/0');
    expect(canonicalCidr('::/0')).toBe('::/0');
    expect(canonicalCidr('::ffff:1.2.3.4/128')).toBe('::ffff:1.2.3.4/128');
    expect(canonicalCidr('10.255.255.255/9')).toBe('10.128.0.0/9');
  });

  it('keeps host bits for interface addresses', () => {
    expect(canonicalAddress('100.100.0.1/24')).toBe('100.100.0.1/24');
    expect(canonicalAddress('FD00::0001/64')).toBe('fd00::1/64');
  });

  it('formats IPv6 per RFC 5952', () => {
    const f = (s: string) => formatIp(parseIp(s)!);
    expect(f('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(f('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(f('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(f('1:0:0:0:0:0:0:0')).toBe('1::');
  });

  it('refuses what is not an address', () => {
    for (const bad of ['10.0.0/8', '10.0.0.256/32', '10.0.0.1/33', 'fd00::/129', 'x', '1:::2/64', '01.2.3.4/32', '']) {
      expect(() => canonicalCidr(bad)).toThrow(TrellisError);
    }
    expect(parseIp('1:2:3:4:5:6:7:8:9')).toBeNull();
    expect(parseIp('1::2::3')).toBeNull();
  });

  it('normalizes endpoints and refuses host names', () => {
    expect(canonicalEndpoint('[FD00::1]:51820')).toBe('[fd00::1]:51820');
    expect(canonicalEndpoint('198.18.200.2:51820')).toBe('198.18.200.2:51820');
    expect(() => canonicalEndpoint('example.com:51820')).toThrow(/ip:port/);
    expect(() => canonicalEndpoint('1.2.3.4:0')).toThrow(TrellisError);
    expect(() => canonicalEndpoint('fd00::1:51820')).toThrow(TrellisError);
  });
});
