/** `trellis keys rotate [--node <name>]`: ask nodes to rotate their WireGuard key now. */
import { ROUTES, type NodeView, type RotateKeysRequest, type RotateKeysResponse } from '../../wire';
import { printJson } from '../command';
import { parseDurationInRange, parseNodeName } from '../flag-values';
import { formatDuration } from '../../text/human-format';
import { adminCommand } from './admin-command';
import { listOf } from './keys-list-command';

const NAME = 'keys rotate';
const POLL_MS = 250;

export const keysRotateCommand = adminCommand({
  name: NAME,
  summary: 'rotate nodes\' WireGuard keys now',
  positionals: [],
  description: `Asks one node (--node) or every live node to rotate its WireGuard key now. The node makes the new
key itself (the private key never leaves it), registers the public key, and its peers switch
without dropping traffic. An offline node rotates when it comes back. Audited.
Keys also rotate on their own schedule: controller.settings.keyRotation (default every 30d).`,
  flags: {
    options: { node: { type: 'string' }, wait: { type: 'boolean' }, timeout: { type: 'string' } },
    help: `  --node <name>   the node to rotate (default: every live node)
  --wait          wait until every node asked has registered its new key
  --timeout <dur> how long --wait waits (default 30s)
`,
  },
  json: true,
  async run({ admin, values, json, io }) {
    const body: RotateKeysRequest = {};
    if (typeof values.node === 'string') body.node = parseNodeName('--node', values.node, NAME);
    const timeoutMs = typeof values.timeout === 'string' ? parseDurationInRange('--timeout', values.timeout, NAME, 1000, 3_600_000) : 30_000;
    const asked = await admin.request<RotateKeysResponse>('POST', ROUTES.adminRotateKeys, body);
    if (!values.wait) {
      if (json) printJson(io, asked);
      else if (asked.requested.length === 0) io.stdout('no live nodes to rotate\n');
      else for (const r of asked.requested) io.stdout(`${r.name}: asked to rotate its WireGuard key${r.online ? '' : ' (offline: it rotates when it comes back)'}\n`);
      return 0;
    }
    const waiting = new Set(asked.requested.map((r) => r.name));
    const done: NodeView[] = [];
    const deadline = Date.now() + timeoutMs;
    while (waiting.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      const nodes = listOf<NodeView>(await admin.request<unknown>('GET', ROUTES.adminNodes), 'nodes');
      for (const n of nodes) {
        if (!n.revoked && waiting.has(n.name) && n.rotateRequestedAt == null) {
          waiting.delete(n.name);
          done.push(n);
        }
      }
    }
    if (json) printJson(io, { rotated: done.map((n) => ({ name: n.name, wgKey: n.wgKey, wgKeyCreatedAt: n.wgKeyCreatedAt })), pending: [...waiting] });
    else for (const n of done) io.stdout(`${n.name}: rotated, new key ${n.wgKey}\n`);
    if (waiting.size === 0) return 0;
    io.stderr(`trellis: not rotated within ${formatDuration(timeoutMs)}: ${[...waiting].sort().join(', ')} (offline nodes rotate when they come back; see \`trellis nodes --keys\`)\n`);
    return 1;
  },
});
