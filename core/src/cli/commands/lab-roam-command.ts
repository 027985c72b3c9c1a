import { Lab } from '../../lab/lab';
import { labDir } from '../../lab/lab-state';
import type { CliIO } from '../cli-io';
import type { Command } from '../command';
import { parseCommandArgs } from '../parse-command-args';
import { UsageError } from '../usage-error';

const NAME = 'lab roam';

/** `trellis lab roam <node>`: the node's underlay address changes, as when a laptop changes networks. */
export const labRoamCommand: Command = {
  name: NAME,
  summary: "change a lab node's underlay address (roaming)",
  help: `Usage: trellis lab roam <node>

Renumbers the node's underlay, as when a laptop moves to another network: 198.18.0.<10+k> becomes
198.18.1.<10+k> (a second subnet on trlbr0 the host routes), and back the next time. Behind a lab
NAT the router's public address moves, which also drops the NAT's mappings. The new address comes
up before the old one goes; impairments of the node follow it; its NAT is measured again. The
agent is not told: finding the node again is the mesh's job.

Flags:
  -h, --help  show this help
`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values, positionals } = parseCommandArgs(NAME, { args: argv, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError(`name one node, e.g. trellis lab roam n1 (got ${positionals.length})`, NAME);
    const name = positionals[0]!;
    const lab = Lab.load(labDir(io.env));
    const from = lab.node(name).underlay;
    const to = await lab.roam(name);
    io.stdout(`lab: ${name} roamed from ${from} to ${to}\n`);
    return 0;
  },
};
