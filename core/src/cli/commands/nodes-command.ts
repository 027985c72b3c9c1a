import { ROUTES, type NodeView } from '../../wire';
import { printJson, type Command } from '../command';
import { formatAgo, formatDuration } from '../../text/human-format';
import { renderTable } from '../../text/text-table';
import { adminCommand } from './admin-command';
import { listOf } from './keys-list-command';

const NAME = 'nodes';

/** `trellis nodes`: the controller's view of every node (`trellis nodes revoke|approve` are their own commands). */
export const nodesCommand: Command = adminCommand({
  name: NAME,
  summary: 'list the nodes the controller knows',
  positionals: [],
  description:
    'Lists nodes: name, overlay addresses, online, last seen, endpoints (their kinds are in --json: candidates), relay port (`trellis up --relay`), tags, topology\nrole (full, hub, or spoke via its hub; `trellis topology`) and the WireGuard peers its map configures; with\n--keys, each WireGuard key\'s age and next rotation, and when the identity and the node\'s key expire.\nSee also `trellis nodes revoke <name>`, `trellis nodes approve <name>`, `trellis nodes expire <name>` and `trellis keys rotate`.',
  flags: {
    options: { keys: { type: 'boolean' } },
    help: '  --keys      show each node\'s keys instead: WireGuard key age, rotation, identity and key expiry\n',
  },
  json: true,
  async run({ admin, json, io, values }) {
    const nodes = listOf<NodeView>(await admin.request<unknown>('GET', ROUTES.adminNodes), 'nodes');
    if (json) printJson(io, nodes);
    else if (nodes.length === 0) io.stdout('no nodes yet; enroll one with `trellis up --auth-key ...`\n');
    else io.stdout(values.keys ? renderNodeKeyTable(nodes, Date.now()) : renderNodeTable(nodes, Date.now()));
    return 0;
  },
});

export function renderNodeTable(nodes: NodeView[], now: number): string {
  // TOPOLOGY and WG PEERS come from controllers with topologies (absent from older ones).
  const withTopology = nodes.some((n) => n.topology !== undefined);
  const rows = [...nodes]
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))
    .map((n) => [
      n.name,
      `${n.addresses.ipv4}, ${n.addresses.ipv6}`,
      n.revoked ? 'revoked' : n.online ? 'yes' : 'no',
      formatAgo(n.lastSeen, now),
      n.endpoints.join(' ') || '-',
      n.relay ? `udp/${n.relay.port}` : '-',
      n.tags.join(',') || '-',
      ...(withTopology ? [n.topology ? (n.topology.via ? `${n.topology.role} via ${n.topology.via}` : n.topology.role) : '-', n.topology ? String(n.topology.peers) : '-'] : []),
    ]);
  return renderTable(['NAME', 'ADDRESSES', 'ONLINE', 'LAST SEEN', 'ENDPOINTS', 'RELAY', 'TAGS', ...(withTopology ? ['TOPOLOGY', 'WG PEERS'] : [])], rows);
}

/** renderNodeKeyTable is `trellis nodes --keys`: each node's key ages and expiries. */
export function renderNodeKeyTable(nodes: NodeView[], now: number): string {
  const rows = [...nodes]
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))
    .map((n) => [
      n.name,
      keyAge(n, now),
      typeof n.keyRotationIntervalMs === 'number' ? formatDuration(n.keyRotationIntervalMs) : '-',
      nextRotation(n, now),
      n.revoked || n.identityExpiresAt == null ? '-' : n.identityExpiresAt <= now ? 'lapsed' : `in ${formatDuration(n.identityExpiresAt - now)}`,
      expiry(n, now),
    ]);
  return renderTable(['NAME', 'KEY AGE', 'ROTATES EVERY', 'NEXT ROTATION', 'IDENTITY EXPIRES', 'NODE EXPIRES'], rows);
}

function nextRotation(n: NodeView, now: number): string {
  if (n.revoked || typeof n.wgKeyCreatedAt !== 'number') return '-';
  if (n.rotateRequestedAt != null) return 'requested';
  const due = n.wgKeyCreatedAt + n.keyRotationIntervalMs;
  return due <= now ? 'overdue' : `in ${formatDuration(due - now)}`;
}

/** keyAge is the WireGuard key's age. */
function keyAge(n: NodeView, now: number): string {
  if (n.revoked || typeof n.wgKeyCreatedAt !== 'number') return '-';
  return formatDuration(now - n.wgKeyCreatedAt);
}

/** expiry is when the node's key expires (it must enroll again), or that it has. */
function expiry(n: NodeView, now: number): string {
  if (n.revoked) return '-';
  if (n.expiresAt === null) return 'never';
  return n.expiresAt <= now ? 'expired' : `in ${formatDuration(n.expiresAt - now)}`;
}
