import { ROUTES, type NodeView } from '../../controller/protocol';
import { ADMIN_FLAG_HELP, ADMIN_FLAG_OPTIONS, resolveAdminTarget } from '../admin-client';
import type { CliIO } from '../cli-io';
import { printJson, type Command } from '../command';
import { formatAgo } from '../human-format';
import { parseCommandArgs } from '../parse-command-args';
import { renderTable } from '../text-table';
import { listOf } from './keys-list-command';

const NAME = 'nodes';

/** `trellis nodes`: the controller's view of every node. */
export const nodesCommand: Command = {
  name: NAME,
  summary: 'list the nodes the controller knows',
  help: `Usage: trellis nodes [--json]
       trellis nodes revoke <name>

Lists nodes: name, overlay addresses, online, last seen, endpoints and tags.

Flags:
  --json      print the nodes as JSON
  -h, --help  show this help

${ADMIN_FLAG_HELP}`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values } = parseCommandArgs(NAME, {
      args: argv,
      options: { ...ADMIN_FLAG_OPTIONS, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    const admin = resolveAdminTarget(values, io.env, NAME);
    const nodes = listOf<NodeView>(await admin.request<unknown>('GET', ROUTES.adminNodes), 'nodes');
    if (values.json) {
      printJson(io, nodes);
      return 0;
    }
    if (nodes.length === 0) {
      io.stdout('no nodes yet; enroll one with `trellis up --auth-key ...`\n');
      return 0;
    }
    io.stdout(renderNodeTable(nodes, Date.now()));
    return 0;
  },
};

export function renderNodeTable(nodes: NodeView[], now: number): string {
  const rows = [...nodes]
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))
    .map((n) => [
      n.name,
      `${n.addresses.ipv4}, ${n.addresses.ipv6}`,
      n.revoked ? 'revoked' : n.online ? 'yes' : 'no',
      formatAgo(n.lastSeen, now),
      n.endpoints.join(' ') || '-',
      n.tags.join(',') || '-',
    ]);
  return renderTable(['NAME', 'ADDRESSES', 'ONLINE', 'LAST SEEN', 'ENDPOINTS', 'TAGS'], rows);
}
