/** `trellis nodes approve <name>`: let a node that waits for approval into the mesh. */
import { ROUTES, type NodeView } from '../../wire';
import { printJson } from '../command';
import { parseNodeName } from '../flag-values';
import { adminCommand, pathPart } from './admin-command';

export const nodesApproveCommand = adminCommand({
  name: 'nodes approve',
  summary: 'approve a node waiting to join',
  positionals: ['<name>'],
  description: 'Approves a node enrolled while the controller runs with --require-approval; it then gets its peers. Audited.',
  json: true,
  async run({ admin, args, json, io }) {
    const name = parseNodeName('node name', args[0]!, 'nodes approve');
    const node = await admin.request<NodeView>('POST', ROUTES.adminApprove.replace(':name', pathPart(name)));
    if (json) printJson(io, node);
    else io.stdout(`node ${node.name} approved\n`);
    return 0;
  },
});
