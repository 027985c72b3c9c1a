import pino from 'pino';
import type { FilterRule, NetworkMap } from '../../netmap/types';
import { PacketFilter } from './packet-filter';

function map(packetFilter: FilterRule[] | null, peerIps = ['100.64.0.2/32']): NetworkMap {
  const node = (id: string, ip: string) => ({
    id, name: id, wgKey: '', addresses: { ipv4: ip, ipv6: 'fd7a::1/128' }, endpoints: [], allowedIps: [], tags: [], user: null, online: true, lastSeen: null,
  });
  return {
    version: 1, epoch: 'e', self: { ...node('self', '100.64.0.1/32'), expiresAt: null },
    peers: peerIps.map((ip, i) => node(`p${i}`, ip)), packetFilter, routes: [], extensions: {},
    overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a::/48' },
  };
}

describe('PacketFilter', () => {
  const scripts: string[] = [];
  let fail = false;
  const nft = async (s: string) => {
    if (fail) throw new Error('nft: boom');
    scripts.push(s);
  };
  const make = () => new PacketFilter({ iface: 'wg0', probePort: 51999, log: pino({ level: 'silent' }), nft });
  beforeEach(() => {
    scripts.length = 0;
    fail = false;
  });

  it('clears a leftover table once for a null filter, then does nothing', async () => {
    const f = make();
    expect(await f.apply(map(null))).toBe('unchanged');
    expect(await f.apply(map(null))).toBe('unchanged');
    expect(scripts).toEqual(['add table inet trellis\ndelete table inet trellis\n']);
  });

  it('writes only when the rendered ruleset changes (peers feed the probe rule)', async () => {
    const f = make();
    const rules: FilterRule[] = [{ srcIps: ['100.64.0.2'], proto: 'tcp', dstPorts: [[443, 443]] }];
    expect(await f.apply(map(rules))).toBe('applied');
    expect(await f.apply(map(rules))).toBe('unchanged');
    expect(await f.apply(map(rules, ['100.64.0.2/32', '100.64.0.3/32']))).toBe('applied');
    expect(scripts).toHaveLength(2);
    expect(scripts[1]).toContain('ip saddr { 100.64.0.2, 100.64.0.3 } udp dport 51999 accept');
    expect(await f.apply(map(null))).toBe('removed');
    await f.stop();
    expect(scripts).toHaveLength(3);
  });

  it('keeps the previous ruleset when nft fails or the filter is malformed', async () => {
    const f = make();
    await f.apply(map([]));
    const before = f.ruleset;
    fail = true;
    await expect(f.apply(map([{ srcIps: ['100.64.0.9'], proto: 'udp', dstPorts: [] }]))).rejects.toThrow('boom');
    expect(f.ruleset).toBe(before);
    fail = false;
    await expect(f.apply(map([{ srcIps: ['nope'], proto: 'udp', dstPorts: [] }]))).rejects.toThrow(/srcIps "nope"/);
    expect(f.ruleset).toBe(before);
    await f.stop();
    expect(f.ruleset).toBeNull();
  });
});
