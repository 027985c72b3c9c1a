import { ROUTES, type NodeView } from '../../wire';
import { printJson, type Command } from '../command';
import { formatAgo } from '../../text/human-format';
import { renderTable } from '../../text/text-table';
import { adminCommand } from './admin-command';
import { listOf } from './keys-list-command';

const NAME = 'nodes';

/** `trellis nodes`: the controller's view of every node (`trellis nodes revoke|approve` are their own commands). */
export const nodesCommand: Command = adminCommand({
  name: NAME,
  summary: 'list the nodes the controller knows',
  positionals: [],
  description: 'Lists nodes: name, overlay addresses, online, last seen, endpoints, relay port (`trellis up --relay`) and tags.\nSee also `trellis nodes revoke <name>` and `trellis nodes approve <name>`.',
  json: true,
  async run({ admin, json, io }) {
    const nodes = listOf<NodeView>(await admin.request<unknown>('GET', ROUTES.adminNodes), 'nodes');
    if (json) printJson(io, nodes);
    else if (nodes.length === 0) io.stdout('no nodes yet; enroll one with `trellis up --auth-key ...`\n');
    else io.stdout(renderNodeTable(nodes, Date.now()));
    return 0;
  },
});

export function renderNodeTable(nodes: NodeView[], now: number): string {
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
    ]);
  return renderTable(['NAME', 'ADDRESSES', 'ONLINE', 'LAST SEEN', 'ENDPOINTS', 'RELAY', 'TAGS'], rows);
}
