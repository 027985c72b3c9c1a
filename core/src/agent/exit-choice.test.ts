import type { NetworkMapData, PeerNode } from '../netmap/types';
import { ExitChoice } from './exit-choice';

const key = (c: string) => c.repeat(43).slice(0, 43) + '=';
function peer(id: string, n: number, online = true): PeerNode {
  return {
    id, name: id, wgKey: key(String.fromCharCode(65 + n)), addresses: { ipv4: `100.64.0.${n}`, ipv6: `fd7a::${n}` }, endpoints: [], allowedIps: [`100.64.0.${n}/32`],
    tags: [], user: null, online, lastSeen: null,
  };
}
function map(online: Record<string, boolean>, exits = ['n3', 'n4']): NetworkMapData {
  return {
    version: 1, epoch: 'e', self: { ...peer('n1', 1), expiresAt: null },
    peers: [peer('n2', 2), peer('n3', 3, online.n3 ?? true), peer('n4', 4, online.n4 ?? true)],
    packetFilter: null,
    routes: exits.flatMap((via) => [{ prefix: '0.0.0.0/0', via, kind: 'exit' as const }, { prefix: '::/0', via, kind: 'exit' as const }]),
    extensions: {}, overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a::/48' },
  };
}

describe('ExitChoice', () => {
  it('uses the preferred exit node, falls back while it is offline, and returns only after the hold-down', () => {
    const c = new ExitChoice({ exitNode: 'n3', exitNodeFallback: 'n4' }, 10_000);
    expect(c.choose(map({}), 0)).toMatchObject({ current: { id: 'n3' }, problem: null, wakeAt: null });
    expect(c.choose(map({ n3: false }), 1_000)).toMatchObject({ current: { id: 'n4' }, problem: 'exit node n3 is offline' });
    const back = c.choose(map({}), 2_000);
    expect(back).toMatchObject({ current: { id: 'n4' }, wakeAt: 12_000 });
    expect(back.problem).toMatch(/back; switching to it after the hold-down/);
    expect(c.choose(map({}), 12_000)).toMatchObject({ current: { id: 'n3' }, problem: null });
  });

  it('names why an exit node cannot be used and uses none', () => {
    expect(new ExitChoice({ exitNode: 'n9', exitNodeFallback: null }).choose(map({}), 0)).toMatchObject({ current: null, problem: expect.stringContaining('exit node n9 is not a peer') });
    expect(new ExitChoice({ exitNode: 'n2', exitNodeFallback: null }).choose(map({}), 0)).toMatchObject({ current: null, problem: expect.stringContaining('does not offer an approved exit route') });
    expect(new ExitChoice({ exitNode: null, exitNodeFallback: null }).choose(map({}), 0)).toEqual({ current: null, problem: null, wakeAt: null });
  });
});
