/** `trellis topology [--node <name>]` and `trellis topology set`: the mesh's topology and each node's place in it. */
import type { TopologyConfig } from '../../api/routes';
import { ROUTES, type TopologyView } from '../../wire';
import { printJson, type Command } from '../command';
import { renderTable } from '../../text/text-table';
import { UsageError } from '../usage-error';
import { adminCommand } from './admin-command';

/** renderTopology: the topology in force, its hubs, then every node's role, peers and hub (or one node's paths). */
export function renderTopology(v: TopologyView): string {
  let out = `topology    ${v.describe} (from ${v.source === 'policy' ? `the policy, version ${String(v.policyVersion).slice(0, 12)}` : 'the controller config'})\n`;
  if (v.source === 'policy') out += `configured  ${v.configured.mode} (overridden by the policy)\n`;
  if (v.hubs.length > 0) out += `hubs        ${v.hubs.map((h) => `${h.name}${h.online ? '' : ' (offline)'}`).join(', ')}; spokes go through ${v.activeHub ?? 'none'}\n`;
  if (v.hubs.length > 0 && v.config.hubForwarding === 'end-to-end') {
    const noRelay = v.hubs.filter((h) => h.relay === false).map((h) => h.name);
    out += `forwarding  end to end: spokes add each other on demand through a hub's relay${noRelay.length > 0 ? `; ${noRelay.join(', ')} ${noRelay.length === 1 ? 'runs' : 'run'} no relay (start with \`trellis up --relay\`)` : ''}\n`;
  }
  else if (v.mode !== 'full') out += 'hubs        none: pairs without a direct link cannot talk\n';
  out += '\n';
  if (v.paths) {
    if (v.paths.length === 0) return out + 'no peers: access or the topology allow this node no pair\n';
    return out + renderTable(['PEER', 'PATH'], v.paths.map((p) => [p.peer, p.path === 'direct' ? 'direct' : `via hub ${p.via}`]));
  }
  return out + renderTable(['NODE', 'ROLE', 'WG PEERS', 'VIA HUB'], v.nodes.map((n) => [n.name, n.role, String(n.peers), n.via ?? '-']));
}

export const topologyCommand: Command = adminCommand({
  name: 'topology',
  summary: 'show the topology in force and each node\'s role, peers and hub',
  positionals: [],
  description:
    'Shows the topology in force (full mesh, hub-and-spoke, partial or hybrid), where it comes from (the controller config,\n`trellis topology set`, or the Rego policy overriding both), its hubs, and each node\'s role, the WireGuard peers\nits map configures and the hub it reaches the rest through. With --node, the nodes one node may talk to and\nwhether directly or via which hub.',
  flags: {
    options: { node: { type: 'string' } },
    help: '  --node <name>  the paths of one node: each node it may talk to, direct or via which hub\n',
  },
  json: true,
  async run({ admin, json, io, values }) {
    const node = typeof values.node === 'string' ? values.node : undefined;
    const v = await admin.request<TopologyView>('GET', node ? `${ROUTES.adminTopology}?node=${encodeURIComponent(node)}` : ROUTES.adminTopology);
    if (json) printJson(io, v);
    else io.stdout(renderTopology(v));
    return 0;
  },
});

/** topologyFromFlags reads --mode, --hubs, --direct (a,b or a<->b for a link between two sites) and --hub-forwarding. */
export function topologyFromFlags(values: Record<string, string | boolean | undefined>, command: string): TopologyConfig {
  const mode = values.mode;
  if (typeof mode !== 'string' || mode === '') throw new UsageError('--mode is required: full, hub-and-spoke, partial or hybrid', command);
  const list = (v: unknown) => (typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter((x) => x !== '') : []);
  const hubs = list(values.hubs);
  const direct = list(values.direct).map((d) => {
    const pair = d.split('<->');
    if (pair.length === 1) return d;
    if (pair.length !== 2 || pair[0]!.trim() === '' || pair[1]!.trim() === '') throw new UsageError(`--direct "${d}" is not a selector or a link a<->b`, command);
    return [pair[0]!.trim(), pair[1]!.trim()] as const;
  });
  const fwd = values['hub-forwarding'];
  if (fwd !== undefined && (typeof fwd !== 'string' || fwd === '')) throw new UsageError('--hub-forwarding takes hop-by-hop or end-to-end', command);
  return {
    mode: mode as TopologyConfig['mode'],
    ...(hubs.length > 0 ? { hubs } : {}),
    ...(direct.length > 0 ? { direct } : {}),
    ...(fwd !== undefined ? { hubForwarding: fwd as TopologyConfig['hubForwarding'] } : {}),
  };
}

export const topologySetCommand: Command = adminCommand({
  name: 'topology set',
  summary: 'choose the topology: full, hub-and-spoke, partial or hybrid',
  positionals: [],
  description:
    'Sets the controller\'s topology (kept across restarts; a topology the Rego policy gives still overrides it). Selectors\nare tag:<name>, node:<name>, group:<name>, user:<name> or *. Every hub and direct selector must match a node;\na refused topology changes nothing. Examples:\n  trellis topology set --mode hub-and-spoke --hubs node:hub1,node:hub2\n  trellis topology set --mode partial --direct tag:dc\n  trellis topology set --mode hybrid --hubs tag:hub --direct \'tag:office-a<->tag:office-b\'\n  trellis topology set --mode hub-and-spoke --hubs node:hub1 --hub-forwarding end-to-end\n  trellis topology set --mode full\nAudited.',
  flags: {
    options: { mode: { type: 'string' }, hubs: { type: 'string' }, direct: { type: 'string' }, 'hub-forwarding': { type: 'string' } },
    help:
      '  --mode <m>      full, hub-and-spoke, partial or hybrid\n  --hubs <sel,..>  the hubs (hub-and-spoke, hybrid; partial may name some)\n  --direct <sel,..>  nodes that talk directly: a selector links its nodes among themselves, a<->b links two sites\n  --hub-forwarding <f>  hop-by-hop (default: the hub decrypts and re-encrypts) or end-to-end (spokes add each other\n                   on demand through the hub\'s relay, which never sees plaintext; hubs run `trellis up --relay`)\n',
  },
  json: true,
  async run({ admin, json, io, values }) {
    const body = topologyFromFlags(values, 'topology set');
    const v = await admin.request<TopologyView>('PUT', ROUTES.adminTopology, body);
    if (json) printJson(io, v);
    else io.stdout(renderTopology(v));
    return 0;
  },
});
