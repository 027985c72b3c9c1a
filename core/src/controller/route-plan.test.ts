import pino from 'pino';
import { definePlugin, type AccessDecision, type AccessDecisionRequest, type NodeGrants } from '../api';
import { DEFAULT_PREFS } from '../agent/prefs';
import { installedRoutes, kernelRoutePrefixes, toWgConfig } from '../agent/to-wg-config';
import { PluginHost } from '../plugins/plugin-host';
import type { NodeRecord } from '../store/store';
import { nodeRecord } from '../store/testing/node-record';
import { MapBuilder, type Mesh } from './map-builder';
import { routesForMesh } from './route-plan';
import type { PrimaryRoute } from './route-table';
import { parseTopology, Topology } from './topology';

const NOW = 1_700_000_000_000;
const OVERLAY = { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:7e11:5000::/48' };
const LAN = '10.20.0.0/24';

const node = (i: number, tags: string[]): NodeRecord => nodeRecord(i, { id: `n${i}`, tags });

/** The lab's shape: hub n0, client spokes n1 and n4, gateway spokes n2 (primary) and n3 (backup) of LAN. */
const NODES = [node(0, ['tag:hub']), node(1, ['tag:office']), node(2, ['tag:site']), node(3, ['tag:site']), node(4, ['tag:branch'])];
const advertisers: Record<string, ReadonlySet<string>> = { n2: new Set([LAN]), n3: new Set([LAN]) };
const advertisedBy = (id: string) => advertisers[id] ?? new Set<string>();

async function plan(
  topology: unknown,
  primaries: PrimaryRoute[],
  decide?: (req: AccessDecisionRequest) => AccessDecision,
  nodes: NodeRecord[] = NODES,
  online: (id: string) => boolean = () => true,
): Promise<Mesh> {
  const h = new PluginHost('controller', pino({ level: 'silent' }));
  if (decide) await h.start([{ plugin: definePlugin({ manifest: { name: 'policy', version: '1.0.0', apiRange: '^1.0.0' }, decideAccess: decide }), config: {} }], {});
  const t = new Topology(parseTopology(topology, 'test'));
  const mesh = await new MapBuilder(h, () => t).build({ nodes, presence: (n) => ({ online: online(n.id), lastSeen: null }), overlay: OVERLAY, epoch: 'e', now: NOW });
  const routes = routesForMesh(mesh, primaries, advertisedBy);
  for (const n of mesh.order) n.routes = routes.get(n.id)!;
  return mesh;
}

const HUB_AND_SPOKE = { mode: 'hub-and-spoke', hubs: ['tag:hub'] };
const primaryOn = (gateway: string): PrimaryRoute[] => [{ prefix: LAN, gateway, kind: 'subnet' }];
const ACCEPT = { ...DEFAULT_PREFS, acceptRoutes: true };
const REFUSE = { ...DEFAULT_PREFS, acceptRoutes: false };
const allowedIpsOf = (mesh: Mesh, at: string, peer: string, prefs = ACCEPT) => {
  const map = mesh.mapOf(at)!;
  const key = map.peers.find((p) => p.id === peer)!.wgKey;
  return toWgConfig(map, prefs, 'priv', 51820).peers.find((p) => p.publicKey === key)!.allowedIps;
};

describe('subnet routes behind a spoke, in topologies with hubs', () => {
  it('a client spoke gets the subnet through the hub, naming the gateway; the hub forwards it to the gateway', async () => {
    const mesh = await plan(HUB_AND_SPOKE, primaryOn('n2'));
    // The client has no tunnel to the gateway: only the hub.
    expect(mesh.mapOf('n1')!.peers.map((p) => p.id)).toEqual(['n0']);
    expect(mesh.mapOf('n1')!.routes).toEqual([
      { prefix: OVERLAY.ipv4Cidr, via: 'n0', kind: 'transit' },
      { prefix: OVERLAY.ipv6Prefix, via: 'n0', kind: 'transit' },
      { prefix: LAN, via: 'n0', kind: 'subnet', gateway: 'n2', gatewayName: 'node-2' },
    ]);
    // Its device sends the LAN to the hub, and the kernel routes it into the tunnel.
    expect(allowedIpsOf(mesh, 'n1', 'n0')).toEqual(['100.64.0.1/32', 'fd7a:7e11:5000::1/128', LAN, OVERLAY.ipv4Cidr, OVERLAY.ipv6Prefix]);
    expect(kernelRoutePrefixes(mesh.mapOf('n1')!, ACCEPT)).toEqual([OVERLAY.ipv4Cidr, OVERLAY.ipv6Prefix, LAN]);
    expect(installedRoutes(mesh.mapOf('n1')!, ACCEPT)).toEqual([{ prefix: LAN, via: 'n0', gateway: 'node-2' }]);
    // Without --accept-routes nothing of the LAN is installed.
    expect(allowedIpsOf(mesh, 'n1', 'n0', REFUSE)).not.toContain(LAN);
    expect(kernelRoutePrefixes(mesh.mapOf('n1')!, REFUSE)).toEqual([OVERLAY.ipv4Cidr, OVERLAY.ipv6Prefix]);
    // The hub: the LAN joins the gateway's allowed IPs and its kernel routes, whether or not it accepts routes itself.
    expect(mesh.mapOf('n0')!.routes).toEqual([
      { prefix: LAN, via: 'n2', kind: 'transit' },
      { prefix: LAN, via: 'n2', kind: 'subnet' },
    ]);
    expect(allowedIpsOf(mesh, 'n0', 'n2', REFUSE)).toEqual(['100.64.0.3/32', 'fd7a:7e11:5000::3/128', LAN]);
    expect(allowedIpsOf(mesh, 'n0', 'n3', REFUSE)).toEqual(['100.64.0.4/32', 'fd7a:7e11:5000::4/128']);
    expect(kernelRoutePrefixes(mesh.mapOf('n0')!, REFUSE)).toEqual([OVERLAY.ipv4Cidr, OVERLAY.ipv6Prefix, LAN]);
    // Gateways keep their LAN route: neither installs the LAN into the tunnel.
    expect(mesh.mapOf('n2')!.routes.map((r) => r.prefix)).toEqual([OVERLAY.ipv4Cidr, OVERLAY.ipv6Prefix]);
    expect(mesh.mapOf('n3')!.routes.map((r) => r.prefix)).toEqual([OVERLAY.ipv4Cidr, OVERLAY.ipv6Prefix]);
    // Alike clients share one frozen list.
    expect(mesh.mapOf('n4')!.routes).toBe(mesh.mapOf('n1')!.routes);
  });

  it('an HA switch moves the client\'s gateway and the hub\'s forwarding to the backup; the client keeps the hub as its next hop', async () => {
    const before = await plan(HUB_AND_SPOKE, primaryOn('n2'));
    const after = await plan(HUB_AND_SPOKE, primaryOn('n3'));
    expect(after.mapOf('n1')!.routes[2]).toEqual({ prefix: LAN, via: 'n0', kind: 'subnet', gateway: 'n3', gatewayName: 'node-3' });
    expect(allowedIpsOf(after, 'n1', 'n0')).toEqual(allowedIpsOf(before, 'n1', 'n0'));
    expect(allowedIpsOf(after, 'n0', 'n3', REFUSE)).toContain(LAN);
    expect(allowedIpsOf(after, 'n0', 'n2', REFUSE)).not.toContain(LAN);
    // The former primary, still advertising, keeps its LAN route and gets nothing of the LAN through the tunnel.
    expect(after.mapOf('n2')!.routes.map((r) => r.prefix)).toEqual([OVERLAY.ipv4Cidr, OVERLAY.ipv6Prefix]);
  });

  it('the access policy still decides: a spoke denied the LAN gets no route through the hub, the hub still forwards, the gateway filters', async () => {
    // Grant 0: every node reaches every node's overlay addresses. Grant 1: only n1 reaches the LAN at the gateways.
    const decide = (req: AccessDecisionRequest): AccessDecision => ({
      version: 'v1',
      grants: [
        { label: 'mesh', proto: 'any', dstPorts: [], srcPrefixes: [] },
        { label: 'lan', proto: 'any', dstPorts: [], srcPrefixes: [] },
      ],
      nodes: new Map(
        req.nodes.map((n) => [
          n.id,
          {
            src: n.id === 'n1' ? [0, 1] : [0],
            srcByPrefix: [],
            dst: [0],
            ...(n.subnets?.includes(LAN) || n.id === 'n2' || n.id === 'n3' ? { dstAt: { 1: [LAN] } } : {}),
          } as NodeGrants,
        ]),
      ),
    });
    const mesh = await plan(HUB_AND_SPOKE, primaryOn('n2'), decide);
    expect(installedRoutes(mesh.mapOf('n1')!, ACCEPT)).toEqual([{ prefix: LAN, via: 'n0', gateway: 'node-2' }]);
    expect(mesh.mapOf('n4')!.routes.map((r) => r.prefix)).toEqual([OVERLAY.ipv4Cidr, OVERLAY.ipv6Prefix]);
    expect(installedRoutes(mesh.mapOf('n4')!, ACCEPT)).toEqual([]);
    // The hub may not use the LAN itself, yet it forwards it to the gateway for n1.
    expect(mesh.mapOf('n0')!.routes).toEqual([{ prefix: LAN, via: 'n2', kind: 'transit' }]);
    expect(installedRoutes(mesh.mapOf('n0')!, ACCEPT)).toEqual([]);
    expect(kernelRoutePrefixes(mesh.mapOf('n0')!, ACCEPT)).toContain(LAN);
    // The gateway's filter admits n1 (and only n1) at the LAN, whichever tunnel its packets come through.
    const lanRules = (mesh.mapOf('n2')!.packetFilter ?? []).filter((r) => r.dstIps?.includes(LAN));
    expect(lanRules).toEqual([{ srcIps: ['100.64.0.2', 'fd7a:7e11:5000::2'], dstIps: [LAN], proto: 'any', dstPorts: [] }]);
  });

  it('when the first hub is offline, clients reach the subnet through the second, which already forwards it', async () => {
    const nodes = [...NODES, node(5, ['tag:hub'])];
    const both = await plan(HUB_AND_SPOKE, primaryOn('n2'), undefined, nodes);
    // Every hub forwards the subnet, so a hub switch is only the clients' routes.
    expect(both.mapOf('n5')!.routes.filter((r) => r.kind === 'transit')).toEqual([{ prefix: LAN, via: 'n2', kind: 'transit' }]);
    expect(installedRoutes(both.mapOf('n1')!, ACCEPT)).toEqual([{ prefix: LAN, via: 'n0', gateway: 'node-2' }]);
    const failed = await plan(HUB_AND_SPOKE, primaryOn('n2'), undefined, nodes, (id) => id !== 'n0');
    expect(installedRoutes(failed.mapOf('n1')!, ACCEPT)).toEqual([{ prefix: LAN, via: 'n5', gateway: 'node-2' }]);
    expect(allowedIpsOf(failed, 'n5', 'n2', REFUSE)).toContain(LAN);
  });

  it('hybrid: a client with a direct link to the gateway goes direct, the others through the hub', async () => {
    const mesh = await plan({ mode: 'hybrid', hubs: ['tag:hub'], direct: [['tag:office', 'tag:site']] }, primaryOn('n2'));
    expect(mesh.mapOf('n1')!.peers.map((p) => p.id)).toEqual(['n0', 'n2', 'n3']);
    expect(installedRoutes(mesh.mapOf('n1')!, ACCEPT)).toEqual([{ prefix: LAN, via: 'n2' }]);
    expect(allowedIpsOf(mesh, 'n1', 'n2')).toContain(LAN);
    expect(allowedIpsOf(mesh, 'n1', 'n0')).not.toContain(LAN);
    expect(installedRoutes(mesh.mapOf('n4')!, ACCEPT)).toEqual([{ prefix: LAN, via: 'n0', gateway: 'node-2' }]);
    expect(mesh.mapOf('n0')!.routes.filter((r) => r.kind === 'transit')).toEqual([{ prefix: LAN, via: 'n2', kind: 'transit' }]);
  });

  it('partial without hubs: only nodes with a tunnel to the gateway get the subnet', async () => {
    const mesh = await plan({ mode: 'partial', direct: ['tag:office', 'tag:site'] }, primaryOn('n2'));
    expect(installedRoutes(mesh.mapOf('n1')!, ACCEPT)).toEqual([{ prefix: LAN, via: 'n2' }]);
    expect(mesh.mapOf('n4')!.routes).toEqual([]);
    expect(mesh.mapOf('n0')!.routes).toEqual([]);
  });

  it('a hub that is the gateway serves the subnet itself: spokes route it to the hub, with no gateway named', async () => {
    const mesh = await plan(HUB_AND_SPOKE, [{ prefix: '10.30.0.0/24', gateway: 'n0', kind: 'subnet' }]);
    expect(mesh.mapOf('n1')!.routes[2]).toEqual({ prefix: '10.30.0.0/24', via: 'n0', kind: 'subnet' });
    expect(mesh.mapOf('n0')!.routes).toEqual([]);
  });

  it('exit routes are not offered through the hub: a spoke uses only an exit node it has a tunnel to', async () => {
    const mesh = await plan(HUB_AND_SPOKE, [{ prefix: '0.0.0.0/0', gateway: 'n2', kind: 'exit' }]);
    expect(mesh.mapOf('n1')!.routes.filter((r) => r.kind === 'exit')).toEqual([]);
    expect(mesh.mapOf('n0')!.routes).toEqual([{ prefix: '0.0.0.0/0', via: 'n2', kind: 'exit' }]);
  });
});
