import type { RunOptions } from '../sys/run';
import { createBridge } from './lab-network';
import { createUplinkBridges } from './lab-routed-network';
import { createSite, siteState } from './lab-site';
import { bridgeMac, LAB_BRIDGE } from './lab-state';

/** Every command the lab code ran, as "[ns: ]cmd args" (a fake `run`: no namespace or link is made). */
const mockCalls: string[] = [];

jest.mock('../sys/run', () => ({
  run: async (cmd: string, args: string[], opts?: RunOptions) => {
    mockCalls.push(`${opts?.netns ? `${opts.netns}: ` : ''}${cmd} ${args.join(' ')}`);
    return '';
  },
  runJson: async () => [],
  tryRun: async () => '',
}));

beforeEach(() => {
  mockCalls.length = 0;
});

/** The calls that touch bridge `name` (in namespace `ns` when given), in order. */
const about = (name: string, ns?: string) => mockCalls.filter((c) => c.includes(`ip ${ns ? `-n ${ns} ` : ''}link`) && c.includes(` ${name}`));

describe('lab bridges keep one MAC address', () => {
  // A bridge without an address of its own takes the lowest MAC of its ports: a node joining later
  // with a lower MAC changed the gateway's MAC under the nodes that had cached it, and their frames
  // to the controller were dropped until ARP gave up on the old address (tens of seconds).
  it('bridgeMac gives fixed, distinct, locally administered unicast addresses', () => {
    const macs = [bridgeMac(0, 1), bridgeMac(0, 2), bridgeMac(0, 3), bridgeMac(1, 0)];
    expect(macs).toEqual(['02:54:52:4c:00:01', '02:54:52:4c:00:02', '02:54:52:4c:00:03', '02:54:52:4c:01:00']);
    for (const m of macs) {
      const first = parseInt(m.slice(0, 2), 16);
      expect(first & 0x02).toBe(0x02); // locally administered
      expect(first & 0x01).toBe(0); // unicast
    }
    expect(() => bridgeMac(0, 256)).toThrow(RangeError);
  });

  it('the lab bridge gets its address before it is up and before any node joins', async () => {
    await createBridge();
    expect(about(LAB_BRIDGE)).toEqual([
      `ip link add ${LAB_BRIDGE} type bridge`,
      `ip link set ${LAB_BRIDGE} address ${bridgeMac(0, 1)}`,
      `ip link set ${LAB_BRIDGE} up`,
    ]);
  });

  it('each uplink bridge gets its own address', async () => {
    const made = await createUplinkBridges(3);
    expect(made).toEqual(['trlbr1', 'trlbr2']);
    for (const [i, b] of made.entries()) {
      const calls = about(b);
      expect(calls[0]).toBe(`ip link add ${b} type bridge`);
      expect(calls[1]).toBe(`ip link set ${b} address ${bridgeMac(0, i + 2)}`);
    }
  });

  it("a site's LAN bridge gets its address before gateways attach", async () => {
    const site = siteState({ prefix: '10.77.0.0/24', gateways: ['n1', 'n2'] }, 1);
    await createSite(site);
    expect(about('br0', site.namespace).slice(0, 2)).toEqual([
      `ip -n ${site.namespace} link add br0 type bridge`,
      `ip -n ${site.namespace} link set br0 address ${bridgeMac(1, 0)}`,
    ]);
  });
});
