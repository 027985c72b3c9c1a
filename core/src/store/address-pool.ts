import { errors } from '../errors';
import { formatIp, ipFromBigInt, ipToBigInt, parseIp } from '../net';
import { canonicalCidr } from '../wg/cidr';

export const DEFAULT_IPV4_CIDR = '100.64.0.0/10';
export const DEFAULT_IPV6_PREFIX = 'fd7a:7e11:5000::/48';

/**
 * AddressPool maps an allocation index to one overlay IPv4 and one IPv6 address (index i is
 * base4+i and base6+i, so 100.64.0.7 pairs with fd7a:7e11:5000::7). Index 0 (the network address)
 * and the IPv4 broadcast address are never handed out. Which indexes are taken is the store's
 * business; allocate() walks forward from a cursor so allocation is O(1) amortized while addresses
 * are never freed, and still finds holes after a wrap-around.
 */
export class AddressPool {
  readonly ipv4Cidr: string;
  readonly ipv6Prefix: string;
  /** Number of usable indexes, 1..size. */
  readonly size: number;
  private readonly base4: bigint;
  private readonly base6: bigint;

  constructor(ipv4Cidr: string = DEFAULT_IPV4_CIDR, ipv6Prefix: string = DEFAULT_IPV6_PREFIX) {
    this.ipv4Cidr = canonicalCidr(ipv4Cidr, 'ipv4Cidr');
    this.ipv6Prefix = canonicalCidr(ipv6Prefix, 'ipv6Prefix');
    const [a4, len4] = this.ipv4Cidr.split('/');
    const [a6, len6] = this.ipv6Prefix.split('/');
    const ip4 = parseIp(a4);
    const ip6 = parseIp(a6);
    if (!ip4 || ip4.family !== 4) throw errors.configInvalid('ipv4Cidr', `"${ipv4Cidr}" is not an IPv4 prefix`);
    if (!ip6 || ip6.family !== 6) throw errors.configInvalid('ipv6Prefix', `"${ipv6Prefix}" is not an IPv6 prefix`);
    if (Number(len4) > 30) throw errors.configInvalid('ipv4Cidr', `"${ipv4Cidr}" leaves no usable addresses; use a /30 or wider prefix`);
    if ((ip6.bytes[0] & 0xfe) !== 0xfc) throw errors.configInvalid('ipv6Prefix', `"${ipv6Prefix}" is not a unique local (fc00::/7) prefix`);
    if (Number(len6) > 120) throw errors.configInvalid('ipv6Prefix', `"${ipv6Prefix}" is too narrow; use a /48 (or at most /120)`);
    this.base4 = ipToBigInt(ip4);
    this.base6 = ipToBigInt(ip6);
    const size4 = 2 ** (32 - Number(len4)) - 2;
    const size6 = 2n ** BigInt(128 - Number(len6)) - 1n;
    this.size = BigInt(size4) < size6 ? size4 : Number(size6);
  }

  /** addressAt gives the pair of addresses of index (1..size). */
  addressAt(index: number): { ipv4: string; ipv6: string } {
    if (!Number.isInteger(index) || index < 1 || index > this.size) throw errors.store(`address index ${index} is outside 1..${this.size}`);
    const i = BigInt(index);
    return {
      ipv4: formatIp(ipFromBigInt(4, this.base4 + i)),
      ipv6: formatIp(ipFromBigInt(6, this.base6 + i)),
    };
  }

  /**
   * allocate returns the first index at or after cursor (wrapping) that isTaken says is free.
   * Throws TRELLIS_ERR_ADDRESS_POOL_EXHAUSTED when every index is taken.
   */
  allocate(cursor: number, isTaken: (index: number) => boolean): number {
    const start = Number.isInteger(cursor) && cursor >= 1 && cursor <= this.size ? cursor : 1;
    for (let k = 0; k < this.size; k++) {
      const index = ((start - 1 + k) % this.size) + 1;
      if (!isTaken(index)) return index;
    }
    throw errors.poolExhausted(this.ipv4Cidr);
  }
}
