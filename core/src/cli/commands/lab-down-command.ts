import { Lab } from '../../lab/lab';
import { labDir } from '../../lab/lab-state';
import type { CliIO } from '../cli-io';
import type { Command } from '../command';
import { parseCommandArgs } from '../parse-command-args';

const NAME = 'lab down';

/** `trellis lab down`: remove everything the lab made. Idempotent. */
export const labDownCommand: Command = {
  name: NAME,
  summary: 'stop the lab and remove everything it made',
  help: `Usage: trellis lab down

Stops the lab's processes, deletes its namespaces (trl-*), veths, the bridge trlbr0, the
WireGuard sockets trlwg*, and the lab directory. Succeeds when nothing is there.

Flags:
  -h, --help  show this help
`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values } = parseCommandArgs(NAME, { args: argv, options: { help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    await Lab.clear(labDir(io.env));
    io.stdout('lab removed\n');
    return 0;
  },
};
