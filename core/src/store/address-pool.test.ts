import { AddressPool } from './address-pool';

describe('AddressPool', () => {
  it('pairs IPv4 and IPv6 by index and skips the network address', () => {
    const pool = new AddressPool();
    expect(pool.ipv4Cidr).toBe('100.64.0.0/10');
    expect(pool.ipv6Prefix).toBe('fd7a:7e11:5000::/48');
    expect(pool.size).toBe(2 ** 22 - 2);
    expect(pool.addressAt(1)).toEqual({ ipv4: '100.64.0.1', ipv6: 'fd7a:7e11:5000::1' });
    expect(pool.addressAt(256)).toEqual({ ipv4: '100.64.1.0', ipv6: 'fd7a:7e11:5000::100' });
    expect(pool.addressAt(pool.size)).toEqual({ ipv4: '100.127.255.254', ipv6: 'fd7a:7e11:5000::3f:fffe' });
    expect(() => pool.addressAt(0)).toThrow(/outside/);
    expect(() => pool.addressAt(pool.size + 1)).toThrow(/outside/);
  });

  it('allocates from the cursor, wraps around to holes and reports exhaustion', () => {
    const pool = new AddressPool('10.9.0.0/29', 'fd00:1::/48');
    expect(pool.size).toBe(6);
    const taken = new Set([3, 4, 5, 6]);
    expect(pool.allocate(3, (i) => taken.has(i))).toBe(1);
    taken.add(1);
    expect(pool.allocate(1, (i) => taken.has(i))).toBe(2);
    taken.add(2);
    expect(() => pool.allocate(1, (i) => taken.has(i))).toThrow(expect.objectContaining({ code: 'TRELLIS_ERR_ADDRESS_POOL_EXHAUSTED' }));
  });

  it('refuses prefixes it cannot allocate from, naming the option', () => {
    expect(() => new AddressPool('10.0.0.0/31')).toThrow(/ipv4Cidr.*\/30 or wider/);
    expect(() => new AddressPool('fd00::/48')).toThrow(/not an IPv4 prefix/);
    expect(() => new AddressPool('10.0.0.0/8', '2001:db8::/48')).toThrow(/unique local/);
    expect(() => new AddressPool('10.0.0.0/8', 'nonsense')).toThrow(expect.objectContaining({ code: 'TRELLIS_ERR_CONFIG_INVALID' }));
  });
});
