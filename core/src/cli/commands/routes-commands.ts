/** `trellis routes`, `trellis routes approve|reject <node> <prefix>`: advertised routes and their approval. */
import { ROUTES, type RouteView } from '../../wire';
import { printJson, type Command } from '../command';
import { renderTable } from '../../text/text-table';
import { adminCommand } from './admin-command';
import { listOf } from './keys-list-command';

/** renderRouteTable: one row per (gateway, prefix), primaries marked. */
export function renderRouteTable(routes: RouteView[]): string {
  const rows = [...routes]
    .sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : b.priority - a.priority || a.node.localeCompare(b.node)))
    .map((r) => [
      r.prefix,
      r.kind,
      r.node,
      r.advertised ? r.status : `${r.status} (withdrawn)`,
      String(r.priority),
      r.check ?? '-',
      !r.online ? 'offline' : r.checkOk === false ? 'check failing' : 'healthy',
      r.primary ? (r.kind === 'exit' ? (r.usedBy && r.usedBy.length > 0 ? `used by ${r.usedBy.join(', ')}` : 'offered') : 'primary') : '-',
    ]);
  return renderTable(['PREFIX', 'KIND', 'GATEWAY', 'STATUS', 'PRIORITY', 'CHECK', 'HEALTH', 'IN USE'], rows);
}

export const routesCommand: Command = adminCommand({
  name: 'routes',
  summary: 'list advertised routes, their approval, health and primaries',
  positionals: [],
  description:
    'Lists every route gateways advertise (`trellis up --advertise-routes`, `--advertise-exit`): its status (pending,\napproved, rejected), priority, check target, health, which gateway peers use now and, for exit nodes, the nodes whose traffic leaves through them. A route is installed\nnowhere until approved: `trellis routes approve <node> <prefix>` or the policy\'s auto-approvers.',
  json: true,
  async run({ admin, json, io }) {
    const routes = listOf<RouteView>(await admin.request<unknown>('GET', ROUTES.adminRoutes), 'routes');
    if (json) printJson(io, routes);
    else if (routes.length === 0) io.stdout('no routes advertised; a gateway advertises with `trellis up --advertise-routes 10.20.0.0/24`\n');
    else io.stdout(renderRouteTable(routes));
    return 0;
  },
});

function decideCommand(decision: 'approve' | 'reject'): Command {
  return adminCommand({
    name: `routes ${decision}`,
    summary: `${decision} a route a gateway advertises`,
    positionals: ['<node>', '<prefix>'],
    description:
      decision === 'approve'
        ? 'Approves a route: peers that accept routes install it (allowed IPs and kernel routes) and the access policy decides\nwho reaches it. A prefix overlapping another gateway\'s approved route is refused (identical prefixes are HA). Audited.'
        : 'Rejects a route: it is removed from every map and stays rejected while the gateway advertises it. Audited.',
    json: true,
    async run({ admin, args, json, io }) {
      const route = await admin.request<RouteView>('POST', ROUTES.adminRouteDecide, { node: args[0]!, prefix: args[1]!, decision });
      if (json) printJson(io, route);
      else io.stdout(`route ${route.prefix} of ${route.node} ${route.status}\n`);
      return 0;
    },
  });
}

export const routesApproveCommand = decideCommand('approve');
export const routesRejectCommand = decideCommand('reject');
