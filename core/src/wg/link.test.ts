import type { RunOptions } from '../sys/run';
import { listUnderlayAddresses, setLinkUp, syncAddresses, syncRoutes } from './link';

/** A fake `ip` for one interface: answers the -j reads from its state and applies the mutations. */
interface FakeAddr {
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
  scope: string;
}
interface FakeRoute {
  dst: string;
  protocol?: string;
  type?: string;
}
const mockIp = {
  mtu: 1420,
  up: false,
  addrs: [] as FakeAddr[],
  routes4: [] as FakeRoute[],
  routes6: [] as FakeRoute[],
  all: [] as unknown[],
  calls: [] as string[],
};

function mockRun(cmd: string, args: string[], opts: RunOptions = {}): string {
  if (cmd !== 'ip') throw new Error(`unexpected command ${cmd}`);
  const line = args.join(' ');
  mockIp.calls.push(`${opts.netns ?? '-'}: ${line}`);
  const m = (re: RegExp) => re.exec(line);
  let r: RegExpExecArray | null;
  if (line === '-j link show dev wg0')
    return JSON.stringify([{ ifname: 'wg0', mtu: mockIp.mtu, flags: mockIp.up ? ['POINTOPOINT', 'UP', 'LOWER_UP'] : ['POINTOPOINT'] }]);
  if (line === '-j addr show dev wg0') return JSON.stringify([{ ifname: 'wg0', addr_info: mockIp.addrs }]);
  if (line === '-j -4 route show dev wg0') return JSON.stringify(mockIp.routes4);
  if (line === '-j -6 route show dev wg0') return JSON.stringify(mockIp.routes6);
  if (line === '-j addr show up') return JSON.stringify(mockIp.all);
  if ((r = m(/^link set dev wg0 mtu (\d+)$/))) mockIp.mtu = Number(r[1]);
  else if (line === 'link set dev wg0 up') mockIp.up = true;
  else if ((r = m(/^(?:-6 )?addr add (\S+)\/(\d+) dev wg0( nodad)?$/)))
    mockIp.addrs.push({ family: r[1].includes(':') ? 'inet6' : 'inet', local: r[1], prefixlen: Number(r[2]), scope: 'global' });
  else if ((r = m(/^addr del (\S+)\/(\d+) dev wg0$/))) mockIp.addrs = mockIp.addrs.filter((a) => a.local !== r![1]);
  else if ((r = m(/^-([46]) route replace (\S+) dev wg0$/))) (r[1] === '4' ? mockIp.routes4 : mockIp.routes6).push({ dst: r[2] });
  else if ((r = m(/^-([46]) route del (\S+) dev wg0$/))) {
    const dst = r[2];
    const strip = (x: FakeRoute) => x.dst !== dst && `${x.dst}/32` !== dst && `${x.dst}/128` !== dst;
    if (r[1] === '4') mockIp.routes4 = mockIp.routes4.filter(strip);
    else mockIp.routes6 = mockIp.routes6.filter(strip);
  } else throw new Error(`fake ip does not know: ip ${line}`);
  return '';
}

jest.mock('../sys/run', () => ({
  run: async (cmd: string, args: string[], opts?: RunOptions) => mockRun(cmd, args, opts),
  runJson: async (cmd: string, args: string[], opts?: RunOptions) => {
    const out = mockRun(cmd, args, opts).trim();
    return out === '' ? [] : JSON.parse(out);
  },
}));

const mutating = () => mockIp.calls.filter((c) => !c.includes(' -j '));

beforeEach(() => {
  Object.assign(mockIp, { mtu: 1420, up: false, addrs: [], routes4: [], routes6: [], all: [], calls: [] });
});

describe('setLinkUp', () => {
  it('sets MTU and up once, then does nothing', async () => {
    mockIp.mtu = 1500;
    await setLinkUp('wg0', 1420, { netns: 'ns1' });
    expect(mutating()).toEqual(['ns1: link set dev wg0 mtu 1420', 'ns1: link set dev wg0 up']);
    mockIp.calls = [];
    await setLinkUp('wg0', 1420, { netns: 'ns1' });
    expect(mutating()).toEqual([]);
  });

  it('refuses an MTU no link can have', async () => {
    await expect(setLinkUp('wg0', 12)).rejects.toMatchObject({ code: 'TRELLIS_ERR_CONFIG_INVALID' });
  });
});

describe('syncAddresses', () => {
  it('adds missing, removes extra global, keeps link-local, and is idempotent', async () => {
    mockIp.addrs = [
      { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' },
      { family: 'inet', local: '100.100.0.9', prefixlen: 32, scope: 'global' },
      { family: 'inet', local: '100.100.0.1', prefixlen: 32, scope: 'global' },
    ];
    await syncAddresses('wg0', ['100.100.0.1/32', 'FD7A::1/128']);
    expect(mutating()).toEqual(['-: addr del 100.100.0.9/32 dev wg0', '-: -6 addr add fd7a::1/128 dev wg0 nodad']);
    expect(mockIp.addrs.map((a) => a.local)).toEqual(['fe80::1', '100.100.0.1', 'fd7a::1']);
    mockIp.calls = [];
    await syncAddresses('wg0', ['100.100.0.1/32', 'fd7a::1/128']);
    expect(mutating()).toEqual([]);
  });

  it('refuses a malformed address before changing anything', async () => {
    await expect(syncAddresses('wg0', ['100.100.0.1/32', 'nonsense'])).rejects.toMatchObject({ code: 'TRELLIS_ERR_CONFIG_INVALID' });
    expect(mockIp.calls).toEqual([]);
  });
});

describe('syncRoutes', () => {
  it('adds missing, deletes stale, ignores kernel/link-local/multicast, and is idempotent', async () => {
    mockIp.routes4 = [{ dst: '100.100.0.0/24', protocol: 'kernel' }, { dst: '100.100.0.7' }, { dst: '100.100.0.2' }];
    mockIp.routes6 = [{ dst: 'fe80::/64', protocol: 'kernel' }, { dst: 'ff00::/8', type: 'multicast' }, { dst: 'fd7a::9' }];
    await syncRoutes('wg0', ['100.100.0.2/32', '10.20.0.0/16', 'fd7a::/48']);
    expect(mutating()).toEqual([
      '-: -4 route del 100.100.0.7/32 dev wg0',
      '-: -6 route del fd7a::9/128 dev wg0',
      '-: -4 route replace 10.20.0.0/16 dev wg0',
      '-: -6 route replace fd7a::/48 dev wg0',
    ]);
    mockIp.calls = [];
    await syncRoutes('wg0', ['100.100.0.2/32', '10.20.0.0/16', 'fd7a::/48']);
    expect(mutating()).toEqual([]);
  });

  it('counts a kernel route for a wanted prefix as present', async () => {
    mockIp.routes4 = [{ dst: '100.100.0.0/24', protocol: 'kernel' }];
    await syncRoutes('wg0', ['100.100.0.0/24']);
    expect(mutating()).toEqual([]);
  });
});

describe('listUnderlayAddresses', () => {
  it('lists global unicast addresses of non-loopback, non-excluded interfaces', async () => {
    mockIp.all = [
      { ifname: 'lo', flags: ['LOOPBACK', 'UP'], link_type: 'loopback', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' }] },
      {
        ifname: 'eth0',
        flags: ['UP'],
        link_type: 'ether',
        addr_info: [
          { family: 'inet', local: '198.18.200.1', prefixlen: 24, scope: 'global' },
          { family: 'inet6', local: '2001:DB8::1', prefixlen: 64, scope: 'global' },
          { family: 'inet6', local: '2001:db8::2', prefixlen: 64, scope: 'global', tentative: true },
          { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' },
        ],
      },
      { ifname: 'wg0', flags: ['UP'], link_type: 'none', addr_info: [{ family: 'inet', local: '100.100.0.1', prefixlen: 32, scope: 'global' }] },
    ];
    expect(await listUnderlayAddresses(['wg0'])).toEqual(['198.18.200.1', '2001:db8::1']);
  });
});
