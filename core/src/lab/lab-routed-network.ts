/**
 * The lab's routed topologies: a node behind its own router namespace with iptables MASQUERADE
 * (`lab up --nat`), and a node with several underlay links on several bridges (`lab up
 * --uplinks`), which the host routes between. Plain nodes are lab-network.ts's createNodeNetwork.
 */
import { run } from '../sys/run';
import { LAB_AGENT_METRICS_PORT } from './lab-prometheus';
import { BRIDGE_FORWARD_TABLE, LAB_BRIDGE, LAB_SUBNET, ROUTER_SUFFIX, bridgeMac, linkSubnet, type LabLinkState, type LabNatType, type LabRouterState } from './lab-state';

/** routerState names a node's router: namespace <node ns>.router, root veth trlv<k>, LAN 10.<k>.0.0/24. */
export function routerState(namespace: string, index: number, veth: string, type: LabNatType): LabRouterState {
  return { type, namespace: `${namespace}${ROUTER_SUFFIX}`, veth, lanGateway: `10.${index}.0.1`, lanAddress: `10.${index}.0.2` };
}

/**
 * createNatNodeNetwork: the router namespace holds the public address on the bridge (default via
 * the host) and the node's LAN gateway; it forwards and masquerades what leaves on eth0 (random
 * ports per connection for a hard NAT, the source port kept where free for an easy one). The node
 * has only its LAN address, default via the router. The agent's metrics port is forwarded, so the
 * lab's Prometheus can scrape it as it would through a real port forward.
 */
export async function createNatNodeNetwork(n: { namespace: string; underlay: string; router: LabRouterState }): Promise<void> {
  const r = n.router;
  await run('ip', ['netns', 'add', r.namespace]);
  await run('ip', ['netns', 'add', n.namespace]);
  await run('ip', ['link', 'add', r.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', r.namespace]);
  await run('ip', ['link', 'set', r.veth, 'master', LAB_BRIDGE]);
  await run('ip', ['link', 'set', r.veth, 'up']);
  await run('ip', ['-n', r.namespace, 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.namespace]);
  for (const [ns, cmds] of [
    [r.namespace, [['link', 'set', 'lo', 'up'], ['addr', 'add', `${n.underlay}/${LAB_SUBNET.bits}`, 'dev', 'eth0'], ['link', 'set', 'eth0', 'up'], ['addr', 'add', `${r.lanGateway}/24`, 'dev', 'lan0'], ['link', 'set', 'lan0', 'up'], ['route', 'add', 'default', 'via', LAB_SUBNET.gateway]]],
    [n.namespace, [['link', 'set', 'lo', 'up'], ['addr', 'add', `${r.lanAddress}/24`, 'dev', 'eth0'], ['link', 'set', 'eth0', 'up'], ['route', 'add', 'default', 'via', r.lanGateway]]],
  ] as const) {
    for (const c of cmds) await run('ip', ['-n', ns, ...c]);
  }
  await run('sysctl', ['-qw', 'net.ipv4.ip_forward=1'], { netns: r.namespace });
  const masq = ['-t', 'nat', '-A', 'POSTROUTING', '-o', 'eth0', '-j', 'MASQUERADE', ...(r.type === 'hard' ? ['--random-fully'] : [])];
  await run('iptables', masq, { netns: r.namespace });
  // Like a home router's firewall: nothing unsolicited from the public side reaches the router
  // itself. Without it a peer's punching ping that arrives before this node's own left is taken
  // in for the router, and its conntrack entry (refreshed by every later ping) takes the port this
  // node's mapping toward that peer would keep, so MASQUERADE moves the mapping to another port on
  // both sides and the hole never opens. Dropped in INPUT, the packet's entry is never confirmed.
  for (const rule of [
    ['-A', 'INPUT', '-i', 'eth0', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'],
    ['-A', 'INPUT', '-i', 'eth0', '-p', 'icmp', '--icmp-type', 'echo-request', '-j', 'ACCEPT'],
    ['-A', 'INPUT', '-i', 'eth0', '-j', 'DROP'],
  ]) {
    await run('iptables', rule, { netns: r.namespace });
  }
  const port = String(LAB_AGENT_METRICS_PORT);
  await run('iptables', ['-t', 'nat', '-A', 'PREROUTING', '-i', 'eth0', '-p', 'tcp', '--dport', port, '-j', 'DNAT', '--to-destination', `${r.lanAddress}:${port}`], { netns: r.namespace });
}

/** linksOf lays out node k's underlay links: eth<j-1> with 198.18.0.<10+k>, 198.19.<j-2>.<10+k>, … */
export function linksOf(index: number, veth: string, count: number): LabLinkState[] {
  return Array.from({ length: count }, (_, i) => {
    const j = i + 1;
    const s = linkSubnet(j);
    return { iface: `eth${i}`, address: `${s.prefix}.${10 + index}`, gateway: s.gateway, bridge: s.bridge, veth: j === 1 ? veth : `${veth}u${j}` };
  });
}

/**
 * createMultiLinkNodeNetwork: one veth per link on its bridge; a default route per link (metric
 * 100, 200, …) and one routing table per link for traffic from that link's address, so replies
 * leave by the link they came in on. Routes over a link whose carrier is lost are ignored
 * (ignore_routes_with_linkdown), so losing link 1 leaves link 2 working.
 */
export async function createMultiLinkNodeNetwork(n: { namespace: string; links: LabLinkState[] }): Promise<void> {
  const ns = n.namespace;
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  await run('sysctl', ['-qw', 'net.ipv4.conf.all.ignore_routes_with_linkdown=1'], { netns: ns });
  for (const [i, l] of n.links.entries()) {
    await run('ip', ['link', 'add', l.veth, 'type', 'veth', 'peer', 'name', l.iface, 'netns', ns]);
    await run('ip', ['link', 'set', l.veth, 'master', l.bridge]);
    await run('ip', ['link', 'set', l.veth, 'up']);
    await run('ip', ['-n', ns, 'addr', 'add', `${l.address}/24`, 'dev', l.iface]);
    await run('ip', ['-n', ns, 'link', 'set', l.iface, 'up']);
    await run('ip', ['-n', ns, 'route', 'add', 'default', 'via', l.gateway, 'dev', l.iface, 'metric', String(100 * (i + 1))]);
    const table = String(101 + i);
    await run('ip', ['-n', ns, 'route', 'add', 'default', 'via', l.gateway, 'dev', l.iface, 'table', table]);
    await run('ip', ['-n', ns, 'rule', 'add', 'from', l.address, 'table', table, 'pref', String(1000 + i)]);
  }
}

/**
 * createUplinkBridges adds trlbr1.. with their gateways and lets the host forward between the lab
 * bridges and between trlbr0's two subnets (198.18.0.0/24 and the roaming 198.18.1.0/24) only:
 * per-interface forwarding, and an nft table that drops anything forwarded elsewhere, so lab
 * traffic never leaves the machine.
 */
export async function createUplinkBridges(maxLinks: number): Promise<string[]> {
  const made: string[] = [];
  for (let j = 2; j <= maxLinks; j++) {
    const s = linkSubnet(j);
    await run('ip', ['link', 'add', s.bridge, 'type', 'bridge']);
    made.push(s.bridge);
    await run('ip', ['link', 'set', s.bridge, 'address', bridgeMac(0, j)]);
    await run('ip', ['addr', 'add', `${s.gateway}/${s.bits}`, 'dev', s.bridge]);
    await run('ip', ['link', 'set', s.bridge, 'up']);
  }
  const bridges = [LAB_BRIDGE, ...made];
  await run('nft', ['-f', '-'], {
    input: `table inet ${BRIDGE_FORWARD_TABLE} {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n    iifname { ${bridges.map((b) => `"${b}"`).join(', ')} } oifname != { ${bridges.map((b) => `"${b}"`).join(', ')} } drop\n  }\n}\n`,
  });
  for (const b of bridges) await run('sysctl', ['-qw', `net.ipv4.conf.${b}.forwarding=1`]);
  return made;
}
