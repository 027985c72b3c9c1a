import { formatIp, ipFromBigInt, ipToBigInt, parseIp } from './ip-address';

const round = (s: string, mapped?: 'dotted' | 'hex') => {
  const ip = parseIp(s);
  return ip ? formatIp(ip, mapped) : null;
};

describe('parseIp and formatIp', () => {
  it('read dotted-quad IPv4 and write it back', () => {
    expect(parseIp('100.64.0.7')).toEqual({ family: 4, bytes: Uint8Array.from([100, 64, 0, 7]) });
    expect(round('0.0.0.0')).toBe('0.0.0.0');
    expect(round('255.255.255.255')).toBe('255.255.255.255');
  });

  it('refuse IPv4 that is not four plain decimal parts (no octal, hex or short forms)', () => {
    for (const bad of ['010.0.0.1', '0x0a.0.0.1', '10.1', '1.2.3.4.5', '256.1.1.1', ' 1.2.3.4', '1.2.3.4/32', '', 'x']) expect(parseIp(bad)).toBeNull();
  });

  it('write IPv6 per RFC 5952: lower case, longest zero run compressed, a single zero group kept', () => {
    expect(round('FD00:0:0::5')).toBe('fd00::5');
    expect(round('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(round('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(round('0:0:0:0:0:0:0:0')).toBe('::');
    expect(round('1:0:0:0:0:0:0:0')).toBe('1::');
  });

  it('write an IPv4-mapped address dotted (as WireGuard does) or in hex groups', () => {
    expect(round('::ffff:1.2.3.4')).toBe('::ffff:1.2.3.4');
    expect(round('::ffff:102:304')).toBe('::ffff:1.2.3.4');
    expect(round('::ffff:1.2.3.4', 'hex')).toBe('::ffff:102:304');
  });

  it('read a dotted tail as the last two groups, also in the IPv4-compatible form ::a.b.c.d', () => {
    expect(parseIp('::1.2.3.4')?.bytes).toEqual(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]));
    expect(round('64:ff9b::1.2.3.4')).toBe('64:ff9b::102:304');
    expect(parseIp('::ffff:01.2.3.4')).toBeNull();
  });

  it('refuse zones and malformed IPv6', () => {
    for (const bad of ['fe80::1%eth0', '1:::2', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', 'g::1', ':::']) expect(parseIp(bad)).toBeNull();
  });

  it('convert addresses to and from numbers', () => {
    const ip = parseIp('100.64.0.1')!;
    expect(ipToBigInt(ip)).toBe(0x64400001n);
    expect(formatIp(ipFromBigInt(4, ipToBigInt(ip) + 255n))).toBe('100.64.1.0');
    expect(formatIp(ipFromBigInt(6, ipToBigInt(parseIp('fd7a:7e11:5000::')!) + 7n))).toBe('fd7a:7e11:5000::7');
  });
});
