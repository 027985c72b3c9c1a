import { parseIpv6 } from './ip-prefix';

const hex = (b: Uint8Array | null) => (b ? Buffer.from(b).toString('hex') : null);

describe('parseIpv6', () => {
  it('reads full, compressed and mixed-case forms', () => {
    expect(hex(parseIpv6('fd7a:115c:a1e0::1'))).toBe('fd7a115ca1e000000000000000000001');
    expect(hex(parseIpv6('::'))).toBe('0'.repeat(32));
    expect(hex(parseIpv6('::1'))).toBe(`${'0'.repeat(31)}1`);
    expect(hex(parseIpv6('1::'))).toBe(`0001${'0'.repeat(28)}`);
    expect(hex(parseIpv6('1:2:3:4:5:6:7:8'))).toBe('00010002000300040005000600070008');
    expect(hex(parseIpv6('FD7A:0:0:0:0:0:0:Ab'))).toBe('fd7a00000000000000000000000000ab');
    expect(hex(parseIpv6('1:2:3::6:7:8'))).toBe('00010002000300000000000600070008');
  });

  it('refuses what it cannot read plainly', () => {
    for (const bad of ['', ':', ':1', '1:', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', '1:2:3:4::5:6:7:8', '12345::', 'g::1', '::ffff:1.2.3.4', 'fe80::1%eth0', '100.64.0.1']) {
      expect(parseIpv6(bad)).toBeNull();
    }
  });
});
