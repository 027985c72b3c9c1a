import type { NetworkMapData, PeerNode } from '../netmap/types';
import { DEFAULT_PREFS } from './prefs';
import { acceptedRoutePrefixes, PERSISTENT_KEEPALIVE, toWgConfig } from './to-wg-config';

const key = (c: string) => c.repeat(43).slice(0, 43) + '=';

function peer(id: string, wgKey: string, n: number, extra: Partial<PeerNode> = {}): PeerNode {
  return {
    id,
    name: `node-${id}`,
    wgKey,
    addresses: { ipv4: `100.64.0.${n}`, ipv6: `fd7a:7e11:5000::${n}` },
    endpoints: [`198.18.0.${n}:51820`, `[2001:db8::${n}]:51820`],
    allowedIps: [`100.64.0.${n}/32`, `fd7a:7e11:5000::${n}/128`],
    tags: [],
    user: null,
    online: true,
    lastSeen: null,
    ...extra,
  };
}

function map(): NetworkMapData {
  const self = { ...peer('a', key('A'), 1), expiresAt: null };
  return {
    version: 3,
    epoch: 'e1',
    self,
    peers: [
      peer('b', key('Z'), 2, { allowedIps: ['100.64.0.2/32', 'fd7a:7e11:5000::2/128', '10.20.0.0/16'] }),
      peer('c', key('C'), 3, { endpoints: [] }),
      peer('d', key('M'), 4),
    ],
    packetFilter: null,
    routes: [{ prefix: '10.20.0.0/16', via: 'b' }],
    extensions: {},
    overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:7e11:5000::/48' },
  };
}

describe('toWgConfig', () => {
  it('sorts peers by public key, takes the first endpoint, keeps allowed IPs from the map', () => {
    const m = map();
    const cfg = toWgConfig(m, DEFAULT_PREFS, key('P'), 51820);
    expect(cfg.privateKey).toBe(key('P'));
    expect(cfg.listenPort).toBe(51820);
    expect(cfg.peers.map((p) => p.publicKey)).toEqual([key('C'), key('M'), key('Z')]);
    expect(cfg.peers[0]).toEqual({
      publicKey: key('C'),
      endpoint: null,
      allowedIps: ['100.64.0.3/32', 'fd7a:7e11:5000::3/128'],
      persistentKeepalive: PERSISTENT_KEEPALIVE,
    });
    expect(cfg.peers[1].endpoint).toBe('198.18.0.4:51820');
    expect(cfg.peers[2].allowedIps).toEqual(['100.64.0.2/32', 'fd7a:7e11:5000::2/128', '10.20.0.0/16']);
    expect(PERSISTENT_KEEPALIVE).toBe(25);
  });

  it('is pure: same output for the same input, and the input is not changed', () => {
    const m = map();
    const before = JSON.stringify(m);
    expect(toWgConfig(m, DEFAULT_PREFS, key('P'), 1)).toEqual(toWgConfig(m, DEFAULT_PREFS, key('P'), 1));
    expect(JSON.stringify(m)).toBe(before);
  });

  it('never lists the node itself as a peer', () => {
    const m = map();
    m.peers.push(peer('a', m.self.wgKey, 1));
    expect(toWgConfig(m, DEFAULT_PREFS, key('P'), 1).peers.map((p) => p.publicKey)).not.toContain(m.self.wgKey);
  });

  it('drops subnet routes from allowed IPs and routes when acceptRoutes is off', () => {
    const m = map();
    const prefs = { ...DEFAULT_PREFS, acceptRoutes: false };
    const b = toWgConfig(m, prefs, key('P'), 1).peers.find((p) => p.publicKey === key('Z'))!;
    expect(b.allowedIps).toEqual(['100.64.0.2/32', 'fd7a:7e11:5000::2/128']);
    expect(acceptedRoutePrefixes(m, prefs)).toEqual([]);
    expect(acceptedRoutePrefixes(m, DEFAULT_PREFS)).toEqual(['10.20.0.0/16']);
  });
});

describe('toWgConfig with routes apart from peer entries', () => {
  const plain = (): NetworkMapData => {
    const m = map();
    m.peers[0] = peer('b', key('Z'), 2);
    m.routes = [
      { prefix: '10.20.0.0/24', via: 'b', kind: 'subnet' },
      { prefix: '10.30.0.0/24', via: 'd', kind: 'subnet' },
      { prefix: '0.0.0.0/0', via: 'd', kind: 'exit' },
    ];
    return m;
  };

  it('adds each accepted subnet to the allowed IPs of the peer it goes through, never an exit route unasked', () => {
    const cfg = toWgConfig(plain(), DEFAULT_PREFS, key('P'), 1);
    const byKey = new Map(cfg.peers.map((p) => [p.publicKey, p.allowedIps]));
    expect(byKey.get(key('Z'))).toEqual(['100.64.0.2/32', 'fd7a:7e11:5000::2/128', '10.20.0.0/24']);
    expect(byKey.get(key('M'))).toEqual(['100.64.0.4/32', 'fd7a:7e11:5000::4/128', '10.30.0.0/24']);
    expect(byKey.get(key('C'))).toEqual(['100.64.0.3/32', 'fd7a:7e11:5000::3/128']);
    expect(acceptedRoutePrefixes(plain(), DEFAULT_PREFS)).toEqual(['10.20.0.0/24', '10.30.0.0/24']);
  });

  it('installs nothing without acceptRoutes', () => {
    const prefs = { ...DEFAULT_PREFS, acceptRoutes: false };
    const cfg = toWgConfig(plain(), prefs, key('P'), 1);
    for (const p of cfg.peers) expect(p.allowedIps.every((ip) => ip.startsWith('100.64.') || ip.startsWith('fd7a:'))).toBe(true);
    expect(acceptedRoutePrefixes(plain(), prefs)).toEqual([]);
  });

  it('ignores a route through a node that is not a peer', () => {
    const m = plain();
    m.routes = [{ prefix: '10.40.0.0/24', via: 'zz', kind: 'subnet' }];
    expect(acceptedRoutePrefixes(m, DEFAULT_PREFS)).toEqual([]);
    expect(toWgConfig(m, DEFAULT_PREFS, key('P'), 1).peers.flatMap((p) => p.allowedIps)).not.toContain('10.40.0.0/24');
  });
});

describe('toWgConfig with an exit node', () => {
  it('gives the chosen exit peer the default routes and marks the device, leaving other peers alone', () => {
    const m = map();
    m.routes = [{ prefix: '0.0.0.0/0', via: 'd', kind: 'exit' }, { prefix: '::/0', via: 'd', kind: 'exit' }];
    const prefs = { ...DEFAULT_PREFS, exitNode: 'node-d' };
    const cfg = toWgConfig(m, prefs, key('P'), 1, 'd');
    expect(cfg.fwmark).toBe(51820);
    expect(cfg.peers.find((p) => p.publicKey === key('M'))!.allowedIps).toEqual(['100.64.0.4/32', 'fd7a:7e11:5000::4/128', '0.0.0.0/0', '::/0']);
    expect(cfg.peers.find((p) => p.publicKey === key('C'))!.allowedIps).toEqual(['100.64.0.3/32', 'fd7a:7e11:5000::3/128']);
    expect(toWgConfig(m, DEFAULT_PREFS, key('P'), 1).fwmark).toBeUndefined();
  });

  it('never installs an accepted subnet inside an excluded CIDR', () => {
    const m = map();
    m.peers[0] = peer('b', key('Z'), 2);
    m.routes = [{ prefix: '10.20.0.0/24', via: 'b', kind: 'subnet' }, { prefix: '10.30.0.0/24', via: 'b', kind: 'subnet' }];
    expect(acceptedRoutePrefixes(m, { ...DEFAULT_PREFS, exclude: ['10.20.0.0/16'] })).toEqual(['10.30.0.0/24']);
  });

  it('with an include list installs only the accepted subnets inside it; exclude still wins', () => {
    const m = map();
    m.peers[0] = peer('b', key('Z'), 2);
    m.routes = [
      { prefix: '10.20.0.0/24', via: 'b', kind: 'subnet' },
      { prefix: '10.20.9.0/24', via: 'b', kind: 'subnet' },
      { prefix: '10.30.0.0/24', via: 'b', kind: 'subnet' },
      { prefix: '10.0.0.0/8', via: 'b', kind: 'subnet' },
    ];
    expect(acceptedRoutePrefixes(m, { ...DEFAULT_PREFS, include: ['10.20.0.0/16'] })).toEqual(['10.20.0.0/24', '10.20.9.0/24']);
    expect(acceptedRoutePrefixes(m, { ...DEFAULT_PREFS, include: ['10.20.0.0/16'], exclude: ['10.20.9.0/24'] })).toEqual(['10.20.0.0/24']);
    expect(acceptedRoutePrefixes(m, { ...DEFAULT_PREFS, include: ['fd00::/8'] })).toEqual([]);
    expect(acceptedRoutePrefixes(m, { ...DEFAULT_PREFS, include: [] })).toEqual(['10.0.0.0/8', '10.20.0.0/24', '10.20.9.0/24', '10.30.0.0/24']);
    // The device follows: only included prefixes join the gateway's allowed IPs.
    const cfg = toWgConfig(m, { ...DEFAULT_PREFS, include: ['10.30.0.0/16'] }, key('P'), 1);
    expect(cfg.peers.find((p) => p.publicKey === key('Z'))!.allowedIps).toEqual(['100.64.0.2/32', 'fd7a:7e11:5000::2/128', '10.30.0.0/24']);
  });
});

describe('toWgConfig: transit routes of a spoke', () => {
  it('adds the overlay through the hub whatever acceptRoutes says; direct peers keep their own addresses', () => {
    const m = map();
    m.routes = [
      { prefix: '100.64.0.0/10', via: 'd', kind: 'transit' },
      { prefix: 'fd7a:7e11:5000::/48', via: 'd', kind: 'transit' },
    ];
    for (const acceptRoutes of [false, true]) {
      const wg = toWgConfig(m, { ...DEFAULT_PREFS, acceptRoutes }, key('P'), 51820);
      expect(wg.peers.find((p) => p.publicKey === key('M'))!.allowedIps).toEqual(['100.64.0.4/32', 'fd7a:7e11:5000::4/128', '100.64.0.0/10', 'fd7a:7e11:5000::/48']);
      expect(wg.peers.find((p) => p.publicKey === key('C'))!.allowedIps).toEqual(['100.64.0.3/32', 'fd7a:7e11:5000::3/128']);
    }
    // Subnet prefixes are still only installed when accepted.
    expect(acceptedRoutePrefixes(m, { ...DEFAULT_PREFS, acceptRoutes: true })).toEqual([]);
  });
});
