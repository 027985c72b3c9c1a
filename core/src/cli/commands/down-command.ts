import type { CliIO } from '../cli-io';
import type { Command } from '../command';
import { parseCommandArgs } from '../parse-command-args';
import { AGENT_TARGET_HELP, AGENT_TARGET_OPTIONS, agentTarget } from './agent-target';

const NAME = 'down';

/** `trellis down`: ask a running agent to remove its device and exit. */
export const downCommand: Command = {
  name: NAME,
  summary: 'stop a running agent and remove its device',
  help: `Usage: trellis down [--state-dir <dir> | --socket <path> | --node <name>]

Asks the agent started by \`trellis up\` to remove its WireGuard device and exit.

Flags:
  -h, --help  show this help

${AGENT_TARGET_HELP}`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values } = parseCommandArgs(NAME, {
      args: argv,
      options: { ...AGENT_TARGET_OPTIONS, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    const agent = agentTarget(values, io.env, NAME);
    await agent.down();
    io.stdout('agent is shutting down\n');
    return 0;
  },
};
