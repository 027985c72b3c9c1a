import { spawn } from 'node:child_process';
import { Lab } from '../../lab/lab';
import { labDir } from '../../lab/lab-state';
import type { CliIO } from '../cli-io';
import type { Command } from '../command';
import { parseCommandArgs } from '../parse-command-args';
import { UsageError } from '../usage-error';

const NAME = 'lab exec';

/** `trellis lab exec <node> -- <cmd...>`: run a command inside a node's namespace, on this terminal. */
export const labExecCommand: Command = {
  name: NAME,
  summary: "run a command in a lab node's namespace",
  help: `Usage: trellis lab exec <node> -- <cmd> [args...]

Runs the command inside the node's network namespace with this terminal's input and output,
and exits with its exit code. Example: trellis lab exec n1 -- ping -c 3 100.64.0.2

Flags:
  -h, --help  show this help
`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values, positionals } = parseCommandArgs(NAME, {
      args: argv,
      allowPositionals: true,
      options: { help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    const [node, ...cmd] = positionals;
    if (node === undefined) throw new UsageError('which node? pass its name, then -- and the command', NAME);
    if (cmd.length === 0) throw new UsageError('no command given; put it after --, e.g. trellis lab exec n1 -- ip addr', NAME);
    const lab = Lab.load(labDir(io.env));
    if (!lab.nodeNames.includes(node)) {
      throw new UsageError(`"${node}" is not a lab node (nodes: ${lab.nodeNames.join(', ')})`, NAME);
    }
    const ns = lab.node(node).namespace;
    return new Promise((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: 'inherit' });
      child.once('error', reject);
      child.once('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    });
  },
};
