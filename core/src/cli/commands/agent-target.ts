/**
 * agentTarget picks the agent socket for `status` and `down`: --socket, --state-dir, a lab node's
 * (--node), else the agent installed as a service (its state dir from /etc/trellis/agent.env).
 */
import { Lab } from '../../lab/lab';
import { labDir } from '../../lab/lab-state';
import { AgentClient } from '../../client/agent-client';
import { installedAgentStateDir } from '../installed-services';
import { UsageError } from '../usage-error';

export const AGENT_TARGET_OPTIONS = {
  'state-dir': { type: 'string' },
  socket: { type: 'string' },
  node: { type: 'string' },
} as const;

export const AGENT_TARGET_HELP = `Agent:
  --state-dir <dir>  the agent's state dir (uses <dir>/agent.sock)
  --socket <path>    the agent's socket
  --node <name>      a node of the running lab
  (none)             the agent service's, from /etc/trellis/agent.env (default /var/lib/trellis/agent)
`;

export function agentTarget(
  values: { 'state-dir'?: string; socket?: string; node?: string },
  env: NodeJS.ProcessEnv,
  command: string,
): AgentClient {
  const given = (['state-dir', 'socket', 'node'] as const).filter((k) => values[k] !== undefined);
  if (given.length > 1) throw new UsageError(`pass only one of --${given.join(', --')}`, command);
  if (values.socket !== undefined) return new AgentClient(values.socket);
  if (values['state-dir'] !== undefined) return AgentClient.forStateDir(values['state-dir']);
  if (values.node !== undefined) {
    const lab = Lab.running(labDir(env));
    if (!lab) throw new UsageError('--node needs a running lab; start one with `trellis lab up`', command);
    if (!lab.nodeNames.includes(values.node)) {
      throw new UsageError(`--node "${values.node}" is not a lab node (nodes: ${lab.nodeNames.join(', ')})`, command);
    }
    return new AgentClient(lab.node(values.node).socket);
  }
  const service = installedAgentStateDir(env);
  if (service !== null) return AgentClient.forStateDir(service);
  throw new UsageError('which agent? pass --state-dir <dir>, --socket <path> or --node <name>', command);
}
