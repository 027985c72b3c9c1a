import { Lab } from '../../lab/lab';
import { labDir } from '../../lab/lab-state';
import type { CliIO } from '../cli-io';
import type { Command } from '../command';
import { parseCommandArgs } from '../parse-command-args';
import { UsageError } from '../usage-error';

const NAME = 'lab link';

/** `trellis lab link <node> <n> up|down`: pull or plug back one of a node's underlay links. */
export const labLinkCommand: Command = {
  name: NAME,
  summary: "take one of a lab node's underlay links down, or bring it back up",
  help: `Usage: trellis lab link <node> <link> up|down

Pulls (down) or plugs back in (up) underlay link <link> (1 = eth0 on trlbr0, 2 = eth1 on trlbr1 after
\`lab up --uplinks <node>=2\`, …) at the host's end, like a cable: the node sees its carrier go and
its routes over that link are ignored, so its traffic leaves by the links it has left.

Flags:
  -h, --help  show this help
`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values, positionals } = parseCommandArgs(NAME, { args: argv, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    if (positionals.length !== 3) throw new UsageError('give a node, a link number and up or down, e.g. trellis lab link n1 1 down', NAME);
    const [name, linkText, state] = positionals as [string, string, string];
    if (!/^[1-9]\d*$/.test(linkText)) throw new UsageError(`link "${linkText}" is not a link number (1, 2, …)`, NAME);
    if (state !== 'up' && state !== 'down') throw new UsageError(`"${state}" is neither up nor down`, NAME);
    await Lab.load(labDir(io.env)).setUplink(name, Number(linkText), state === 'up');
    io.stdout(`lab: ${name} link ${linkText} ${state}\n`);
    return 0;
  },
};
