/** `trellis nodes expire <name> [--in <dur> | --at <time>]`: a node's key expires. */
import { ROUTES, type ExpireNodeRequest, type NodeView } from '../../wire';
import { printJson } from '../command';
import { parseDurationInRange, parseNodeName } from '../flag-values';
import { formatDuration } from '../../text/human-format';
import { UsageError } from '../usage-error';
import { adminCommand, pathPart } from './admin-command';

const NAME = 'nodes expire';
const TEN_YEARS_MS = 10 * 365 * 86_400_000;
const RFC3339 = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

export const nodesExpireCommand = adminCommand({
  name: NAME,
  summary: 'expire a node\'s key, now or at a given time',
  positionals: ['<name>'],
  description: `Makes the node's key expire: now (the default), after --in, or at --at. An expired node leaves
every peer's map (within 2 s) and its requests are refused with TRELLIS_ERR_NODE_EXPIRED; it must
enroll again with an auth key. New nodes get an expiry from controller.settings.keyExpiry (by tag) or
from the auth key (\`trellis keys create --key-expiry\`). Audited.`,
  flags: {
    options: { in: { type: 'string' }, at: { type: 'string' } },
    help: `  --in <dur>      expire after this long, e.g. 30m, 12h, 7d
  --at <time>     expire at this time, RFC 3339, e.g. 2026-07-01T12:00:00Z
`,
  },
  json: true,
  async run({ admin, args, values, json, io }) {
    const name = parseNodeName('node name', args[0]!, NAME);
    if (values.in !== undefined && values.at !== undefined) throw new UsageError('--in and --at both say when; pass one', NAME);
    const body: ExpireNodeRequest = {};
    const now = Date.now();
    if (typeof values.in === 'string') body.at = now + parseDurationInRange('--in', values.in, NAME, 0, TEN_YEARS_MS);
    if (typeof values.at === 'string') {
      const at = RFC3339.test(values.at) ? Date.parse(values.at) : NaN;
      if (!Number.isFinite(at)) throw new UsageError(`--at "${values.at}" is not an RFC 3339 time, e.g. 2026-07-01T12:00:00Z`, NAME);
      if (at < now) throw new UsageError(`--at "${values.at}" is in the past; leave --at out to expire the node now`, NAME);
      if (at > now + TEN_YEARS_MS) throw new UsageError(`--at "${values.at}" is more than ten years ahead`, NAME);
      body.at = at;
    }
    const node = await admin.request<NodeView>('POST', ROUTES.adminExpire.replace(':name', pathPart(name)), body);
    if (json) printJson(io, node);
    else if (node.expiresAt !== null && node.expiresAt <= Date.now()) io.stdout(`node ${node.name} expired: it left every peer's map and must enroll again with an auth key\n`);
    else io.stdout(`node ${node.name} expires at ${new Date(node.expiresAt!).toISOString()} (in ${formatDuration(node.expiresAt! - Date.now())})\n`);
    return 0;
  },
});
