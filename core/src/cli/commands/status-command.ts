import type { CliIO } from '../cli-io';
import { printJson, type Command } from '../command';
import { parseCommandArgs } from '../parse-command-args';
import { renderAgentStatus } from '../status-view';
import { AGENT_TARGET_HELP, AGENT_TARGET_OPTIONS, agentTarget } from './agent-target';

const NAME = 'status';

/** `trellis status`: the local agent's node and its peers, with probe results. */
export const statusCommand: Command = {
  name: NAME,
  summary: "show a running agent's node and peers",
  help: `Usage: trellis status [--state-dir <dir> | --socket <path> | --node <name>] [--json]

Shows the node (name, addresses, key, map version and source, controller connection) and one
row per peer: endpoint, last handshake, bytes received/sent, probe RTT, loss and jitter.

Flags:
  --json      print the agent's status as JSON (AgentStatus)
  -h, --help  show this help

${AGENT_TARGET_HELP}`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values } = parseCommandArgs(NAME, {
      args: argv,
      options: { ...AGENT_TARGET_OPTIONS, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    const status = await agentTarget(values, io.env, NAME).status();
    if (values.json) printJson(io, status);
    else io.stdout(renderAgentStatus(status, Date.now()));
    return 0;
  },
};
