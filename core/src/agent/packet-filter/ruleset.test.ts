import { ErrorCode } from '../../errors';
import { mergePortRanges, normalizePrefixes } from './address-set';
import { removeScript, renderRuleset } from './ruleset';

const probe = { port: 51999, peerIps: ['100.64.0.3/32', '100.64.0.2'] };

describe('renderRuleset', () => {
  it('replaces the table in one script: add, delete, define', () => {
    const text = renderRuleset({ iface: 'trlwg1', rules: [], probe: null });
    const lines = text.split('\n');
    expect(lines.slice(0, 3)).toEqual(['add table inet trellis', 'delete table inet trellis', 'table inet trellis {']);
    expect(text).toContain('type filter hook input priority filter; policy accept;');
    expect(text).toContain('type filter hook forward priority filter; policy accept;');
    expect(text.match(/iifname "trlwg1" jump mesh_in/g)).toHaveLength(2);
  });

  it('an empty filter accepts only replies and drops the rest', () => {
    const text = renderRuleset({ iface: 'wg0', rules: [], probe: null });
    const chain = text.slice(text.indexOf('chain mesh_in'));
    expect(chain).toContain('ct state established,related accept');
    expect(chain.trim().split('\n').filter((l) => l.includes('accept') && !l.includes('ct state'))).toEqual([]);
    expect(chain).toContain('counter drop');
  });

  it('lets current peers reach the probe port, sorted and deduped', () => {
    const text = renderRuleset({ iface: 'wg0', rules: [], probe: { ...probe, peerIps: [...probe.peerIps, '100.64.0.2'] } });
    expect(text).toContain('ip saddr { 100.64.0.2, 100.64.0.3 } udp dport 51999 accept comment "trellis probes"');
  });

  it('renders one accept per rule and family with saddr sets, proto, port ranges and daddr', () => {
    const text = renderRuleset({
      iface: 'wg0',
      probe: null,
      rules: [
        { srcIps: ['100.64.0.1', 'fd7a:115c:a1e0::1'], proto: 'tcp', dstPorts: [[443, 443]], dstIps: ['100.64.0.2', 'fd7a:115c:a1e0::2'] },
        { srcIps: ['10.0.0.0/8', '10.1.2.3'], proto: 'udp', dstPorts: [[53, 53], [1000, 2000], [1500, 2500]] },
        { srcIps: ['100.64.0.9'], proto: 'icmp', dstPorts: [] },
        { srcIps: ['*'], proto: 'any', dstPorts: [] },
      ],
    });
    expect(text).toContain('ip saddr 100.64.0.1 ip daddr 100.64.0.2 tcp dport 443 accept comment "rule 1"');
    expect(text).toContain('ip6 saddr fd7a:115c:a1e0::1 ip6 daddr fd7a:115c:a1e0::2 tcp dport 443 accept comment "rule 1"');
    expect(text).toContain('ip saddr 10.0.0.0/8 udp dport { 53, 1000-2500 } accept comment "rule 2"');
    expect(text).toContain('ip saddr 100.64.0.9 meta l4proto icmp accept comment "rule 3"');
    expect(text).toContain('\taccept comment "rule 4"');
    expect(text).not.toContain('ip6 saddr 100');
  });

  it('skips a family a rule cannot match (IPv4 sources, IPv6-only destinations)', () => {
    const text = renderRuleset({ iface: 'wg0', probe: null, rules: [{ srcIps: ['100.64.0.1'], proto: 'tcp', dstPorts: [], dstIps: ['fd7a::1'] }] });
    expect(text).not.toContain('rule 1');
  });

  it('treats "all ports" as a protocol match and "any" with ports as tcp or udp', () => {
    const text = renderRuleset({
      iface: 'wg0',
      probe: null,
      rules: [
        { srcIps: ['100.64.0.1'], proto: 'tcp', dstPorts: [[0, 65535]] },
        { srcIps: ['100.64.0.1'], proto: 'any', dstPorts: [[53, 53]] },
      ],
    });
    expect(text).toContain('ip saddr 100.64.0.1 meta l4proto tcp accept comment "rule 1"');
    expect(text).toContain('ip saddr 100.64.0.1 meta l4proto { tcp, udp } th dport 53 accept comment "rule 2"');
  });

  it.each([
    [{ srcIps: ['not-an-ip'], proto: 'tcp', dstPorts: [] }, 'srcIps "not-an-ip"'],
    [{ srcIps: ['10.0.0.0/33'], proto: 'tcp', dstPorts: [] }, 'prefix length'],
    [{ srcIps: ['10.0.0.1'], proto: 'sctp', dstPorts: [] }, 'proto "sctp"'],
    [{ srcIps: ['10.0.0.1'], proto: 'tcp', dstPorts: [[80, 70]] }, 'from <= to'],
    [{ srcIps: ['10.0.0.1'], proto: 'tcp', dstPorts: [[1, 70000]] }, '0..65535'],
    [{ srcIps: '10.0.0.1', proto: 'tcp', dstPorts: [] }, 'srcIps must be a list'],
    [{ srcIps: ['10.0.0.1";drop'], proto: 'tcp', dstPorts: [] }, 'not an IPv4/IPv6'],
  ])('refuses a malformed rule %j with a message naming it', (rule, words) => {
    try {
      renderRuleset({ iface: 'wg0', probe: null, rules: [rule] });
      throw new Error('no error');
    } catch (err) {
      expect((err as { code?: string }).code).toBe(ErrorCode.PACKET_FILTER_INVALID);
      expect((err as Error).message).toContain('packetFilter[0]');
      expect((err as Error).message).toContain(words);
    }
  });

  it('refuses an interface name nft could misread', () => {
    expect(() => renderRuleset({ iface: 'wg0" accept', rules: [], probe: null })).toThrow(/interface name/);
  });

  it('removes the table idempotently', () => {
    expect(removeScript()).toBe('add table inet trellis\ndelete table inet trellis\n');
  });
});

describe('normalizePrefixes and mergePortRanges', () => {
  it('drops covered prefixes, clears host bits and writes hosts bare', () => {
    expect(normalizePrefixes(['10.1.2.3/8', '10.9.9.9', '100.64.0.1/32', 'fd7a:0:0::1/128', 'fd7a::/16', '::ffff:1.2.3.4'], 'x')).toEqual({
      v4: ['10.0.0.0/8', '100.64.0.1'],
      v6: ['::ffff:102:304', 'fd7a::/16'],
    });
  });
  it('merges overlapping and touching port ranges', () => {
    expect(mergePortRanges([[10, 20], [21, 30], [5, 5], [100, 200], [150, 160]], 'p')).toEqual([[5, 5], [10, 30], [100, 200]]);
  });
});

describe('renderRuleset on a topology hub', () => {
  it('forwards WireGuard-to-WireGuard traffic before the filter, and filters its own input as before', () => {
    const text = renderRuleset({ iface: 'wg0', rules: [], probe: null, transit: true });
    const forward = text.slice(text.indexOf('chain forward'), text.indexOf('chain mesh_in'));
    const lines = forward.split('\n').map((l) => l.trim());
    const accept = lines.indexOf('iifname "wg0" oifname "wg0" counter accept comment "trellis: hub forwards between spokes"');
    expect(accept).toBeGreaterThan(0);
    expect(accept).toBeLessThan(lines.indexOf('iifname "wg0" jump mesh_in'));
    const input = text.slice(text.indexOf('chain input'), text.indexOf('chain forward'));
    expect(input).not.toContain('oifname');
    expect(renderRuleset({ iface: 'wg0', rules: [], probe: null })).not.toContain('hub forwards');
  });
});
