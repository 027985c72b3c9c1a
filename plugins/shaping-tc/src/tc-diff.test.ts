import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildDesiredState, portBlocks } from './desired-state';
import type { ShapingProfile } from './profile';
import { diffDevice, diffIngressHook } from './tc-diff';
import { parseClasses, parseFilters, parseQdiscs, type DeviceState } from './tc-state';
import { officeProfile } from './test-profiles';

const dir = join(__dirname, 'fixtures', 'office-applied');
const fx = (name: string) => readFileSync(join(dir, name), 'utf8');
const fixtureProfile = JSON.parse(fx('profile.json')) as ShapingProfile;
const opts = { iface: 'trltR0', leaf: null, ingress: true, peerAddresses: { backup: '100.64.0.9' } };

function applied(): DeviceState {
  return { dev: 'trltR0', qdiscs: parseQdiscs(fx('qdisc.json')), classes: parseClasses(fx('class.txt')).classes, filters: [...parseFilters(fx('filter.json')), ...parseFilters(fx('filter-ingress.json'))] };
}
const empty = (dev: string): DeviceState => ({ dev, qdiscs: [{ kind: 'noqueue', handle: '0:', parent: 'root', options: {} }], classes: [], filters: [] });

describe('desired state', () => {
  it('builds the exact tc commands for a known profile on a fresh device', () => {
    const desired = buildDesiredState(officeProfile(), { ...opts, iface: 'wg0', ingress: false, peerAddresses: {} });
    expect(desired.ingress).toBeNull();
    expect(diffDevice(empty('wg0'), desired.egress).map((c) => c.join(' '))).toEqual([
      'tc qdisc replace dev wg0 root handle 1: htb default 30 r2q 63',
      'tc class add dev wg0 parent 1: classid 1:1 htb rate 100000kbit ceil 100000kbit burst 12500b cburst 12500b',
      'tc class add dev wg0 parent 1:1 classid 1:10 htb rate 20000kbit ceil 50000kbit burst 2500b cburst 6250b prio 0',
      'tc class add dev wg0 parent 1:1 classid 1:20 htb rate 30000kbit ceil 100000kbit burst 3750b cburst 12500b prio 1',
      'tc class add dev wg0 parent 1:1 classid 1:30 htb rate 30000kbit ceil 100000kbit burst 3750b cburst 12500b prio 2',
      'tc class add dev wg0 parent 1:1 classid 1:40 htb rate 10000kbit ceil 80000kbit burst 1600b cburst 10000b prio 3',
      'tc filter add dev wg0 parent 1: protocol ip prio 100 u32 match ip tos 0xb8 0xfc flowid 1:10',
      'tc filter add dev wg0 parent 1: protocol ip prio 100 u32 match ip tos 0x80 0xfc flowid 1:10',
      'tc filter add dev wg0 parent 1: protocol ip prio 100 u32 match ip tos 0xa0 0xfc flowid 1:10',
      'tc filter add dev wg0 parent 1: protocol ip prio 100 u32 match ip protocol 17 0xff match ip dport 3478 0xfffe flowid 1:10',
      'tc filter add dev wg0 parent 1: protocol ip prio 100 u32 match ip protocol 17 0xff match ip dport 3480 0xfffe flowid 1:10',
      'tc filter add dev wg0 parent 1: protocol ip prio 200 u32 match ip protocol 6 0xff match ip dport 22 0xffff flowid 1:20',
      'tc filter add dev wg0 parent 1: protocol ip prio 200 u32 match ip dst 10.20.0.0/16 flowid 1:20',
      'tc filter add dev wg0 parent 1: protocol ip prio 300 u32 match ip protocol 6 0xff match ip dport 873 0xffff flowid 1:40',
    ]);
  });

  it('puts fq_codel leaves under each class where the kernel has it', () => {
    const d = buildDesiredState(officeProfile(), { ...opts, iface: 'wg0', leaf: 'fq_codel' });
    const cmds = diffDevice(empty('wg0'), d.egress).map((c) => c.join(' '));
    expect(cmds).toContain('tc qdisc add dev wg0 parent 1:10 handle 10: fq_codel');
    expect(cmds.filter((c) => c.includes('fq_codel'))).toHaveLength(4);
  });

  it('splits port ranges into aligned u32 blocks', () => {
    expect(portBlocks(3478, 3481)).toEqual([{ value: 3478, mask: 0xfffe }, { value: 3480, mask: 0xfffe }]);
    expect(portBlocks(1024, 2047)).toEqual([{ value: 1024, mask: 0xfc00 }]);
    expect(portBlocks(5, 5)).toEqual([{ value: 5, mask: 0xffff }]);
    expect(portBlocks(1, 65535).reduce((n, b) => n + ((~b.mask & 0xffff) + 1), 0)).toBe(65535);
  });
});

describe('diffDevice', () => {
  it('runs nothing when the device already matches (recorded state)', () => {
    const d = buildDesiredState(fixtureProfile, opts);
    expect(diffDevice(applied(), d.egress)).toEqual([]);
    expect(diffIngressHook({ iface: applied(), ifb: { exists: true, up: true } }, 'trltR0', 'ifb-trltR0')).toEqual([]);
    const ifbState: DeviceState = { dev: 'ifb-trltR0', qdiscs: parseQdiscs(fx('qdisc.json')).filter((q) => q.parent === 'root'), classes: parseClasses(fx('ifb-class.txt')).classes, filters: parseFilters(fx('ifb-filter.json')) };
    expect(diffDevice(ifbState, d.ingress!.device)).toEqual([]);
  });

  it('changes one class rate with a single tc class change', () => {
    const p = structuredClone(fixtureProfile);
    p.classes.realtime.rateMbit = 25;
    expect(diffDevice(applied(), buildDesiredState(p, opts).egress)).toEqual([
      ['tc', 'class', 'change', 'dev', 'trltR0', 'parent', '1:1', 'classid', '1:10', 'htb', 'rate', '25000kbit', 'ceil', '50000kbit', 'burst', '3125b', 'cburst', '6250b', 'prio', '0'],
    ]);
  });

  it('adds and deletes only the filters that changed', () => {
    const p = structuredClone(fixtureProfile);
    p.classes.bulk.match = { ports: [{ proto: 'tcp', from: 8873 }] };
    expect(diffDevice(applied(), buildDesiredState(p, opts).egress).map((c) => c.join(' '))).toEqual([
      'tc filter del dev trltR0 parent 1: protocol ip prio 300 handle 802::800 u32',
      'tc filter add dev trltR0 parent 1: protocol ip prio 300 u32 match ip protocol 6 0xff match ip dport 8873 0xffff flowid 1:40',
    ]);
  });

  it('removes a dropped cap: its filter first, then its class', () => {
    const p = structuredClone(fixtureProfile);
    p.caps = [{ peer: 'backup', rateMbit: 5 }];
    const cmds = diffDevice(applied(), buildDesiredState(p, opts).egress).map((c) => c.join(' '));
    expect(cmds[0]).toMatch(/^tc filter del dev trltR0 parent 1: protocol ip prio 11 handle [0-9a-f]+::800 u32$/);
    expect(cmds[1]).toBe('tc class del dev trltR0 classid 1:101');
    expect(cmds).toHaveLength(2);
  });

  it('removes the ingress redirect when the profile drops ingress shaping', () => {
    expect(diffIngressHook({ iface: applied(), ifb: { exists: true, up: true } }, 'trltR0', null)).toEqual([['tc', 'qdisc', 'del', 'dev', 'trltR0', 'ingress']]);
  });
});
