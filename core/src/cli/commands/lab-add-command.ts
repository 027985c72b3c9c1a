import { Lab } from '../../lab/lab';
import { labDir } from '../../lab/lab-state';
import type { CliIO } from '../cli-io';
import { printJson, type Command } from '../command';
import { parseNodeName } from '../flag-values';
import { parseCommandArgs } from '../parse-command-args';

const NAME = 'lab add';

/** `trellis lab add`: one more node in the running lab. */
export const labAddCommand: Command = {
  name: NAME,
  summary: 'add a node to the running lab',
  help: `Usage: trellis lab add [--name <name>] [--json]

Adds a node (default name n<k>) to the running lab and waits until it has its map with every peer.

Flags:
  --name <name>  node name: lower-case letters, digits and -
  --json         print the new node as JSON
  -h, --help     show this help
`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values } = parseCommandArgs(NAME, {
      args: argv,
      options: { name: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    const name = values.name !== undefined ? parseNodeName('--name', values.name, NAME) : undefined;
    const lab = Lab.load(labDir(io.env));
    const node = await lab.addNode(name);
    const view = lab.describe().nodes.find((n) => n.name === node.name)!;
    if (values.json) printJson(io, view);
    else io.stdout(`node ${view.name} joined: ${view.addresses?.ipv4 ?? '?'} in ${view.namespace} (underlay ${view.underlay})\n`);
    return 0;
  },
};
