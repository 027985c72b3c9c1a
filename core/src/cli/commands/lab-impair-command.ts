import { Lab } from '../../lab/lab';
import { labDir } from '../../lab/lab-state';
import type { CliIO } from '../cli-io';
import type { Command } from '../command';
import { parseDurationInRange } from '../flag-values';
import { parseCommandArgs } from '../parse-command-args';
import { UsageError } from '../usage-error';

const NAME = 'lab impair';

/** parsePercent reads 5%, 5 or 0.5% as a percentage 0..100. */
export function parsePercent(flag: string, value: string, command: string): number {
  const m = /^(\d+(?:\.\d+)?)%?$/.exec(value.trim());
  const n = m ? Number(m[1]) : NaN;
  if (!m || !(n >= 0 && n <= 100)) throw new UsageError(`${flag} "${value}" is not a percentage from 0 to 100, e.g. 5%`, command);
  return n;
}

/** `trellis lab impair a b --delay 40ms --jitter 5ms --loss 5%` and `--clear`. */
export const labImpairCommand: Command = {
  name: NAME,
  summary: 'add delay, jitter and loss to the direct path between two lab nodes',
  help: `Usage: trellis lab impair <a> <b> [--delay <dur>] [--jitter <dur>] [--loss <pct>] [--one-way]
       trellis lab impair <a> <b> --clear
       trellis lab impair --clear

Impairs the direct underlay path between two lab nodes, in both directions, as a ping between
them sees it: --delay is added to the round trip (half each way), --jitter spreads it (± uniform),
--loss is the round-trip loss (each direction drops 1 − √(1 − loss)). Traffic through a relay is
not touched. The kernel has no netem: loss is an nft numgen rule and delay a small NFQUEUE program
(trellis-delay-queue) in the nodes' namespaces. Impairing a pair again replaces its figures.
--one-way impairs only a's packets to b, with the whole figures (\`--loss 100% --one-way\`: a path
that works in one direction only). --clear removes the pair's impairment (or every one without a
pair); \`lab down\` removes all.

Flags:
  --delay <dur>   e.g. 40ms (0..10s)
  --jitter <dur>  e.g. 5ms; at most --delay
  --loss <pct>    e.g. 5% (0..100); 100% cuts the path
  --one-way       only from <a> to <b>
  --clear         remove instead of add
  -h, --help      show this help
`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values, positionals } = parseCommandArgs(NAME, {
      args: argv,
      allowPositionals: true,
      options: {
        delay: { type: 'string' },
        jitter: { type: 'string' },
        loss: { type: 'string' },
        clear: { type: 'boolean' },
        'one-way': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    if (positionals.length > 2) throw new UsageError(`name two nodes, not ${positionals.length} (${positionals.join(' ')})`, NAME);
    const [a, b] = positionals;
    const figures = values.delay !== undefined || values.jitter !== undefined || values.loss !== undefined;
    if (values.clear) {
      if (figures || values['one-way']) throw new UsageError('--clear takes no --delay, --jitter, --loss or --one-way', NAME);
      if (positionals.length === 1) throw new UsageError(`--clear needs both nodes of the pair (or none, to clear every pair); got only ${a}`, NAME);
      const lab = Lab.load(labDir(io.env));
      const n = await lab.clearImpairments(a, b);
      io.stdout(a === undefined ? `lab: cleared ${n} impaired pair${n === 1 ? '' : 's'}\n` : n > 0 ? `lab: ${a}–${b} is no longer impaired\n` : `lab: ${a}–${b} was not impaired\n`);
      return 0;
    }
    if (positionals.length < 2) throw new UsageError('name the two nodes whose path to impair, e.g. trellis lab impair n1 n2 --delay 40ms', NAME);
    if (a === b) throw new UsageError(`name two different nodes (got ${a} twice)`, NAME);
    if (!figures) throw new UsageError('give --delay, --jitter and/or --loss (or --clear)', NAME);
    const delayMs = values.delay !== undefined ? parseDurationInRange('--delay', values.delay, NAME, 0, 10_000) : 0;
    const jitterMs = values.jitter !== undefined ? parseDurationInRange('--jitter', values.jitter, NAME, 0, 10_000) : 0;
    const lossPct = values.loss !== undefined ? parsePercent('--loss', values.loss, NAME) : 0;
    if (jitterMs > 0 && delayMs === 0) throw new UsageError('--jitter needs --delay (jitter spreads the delay around its value)', NAME);
    if (jitterMs > delayMs) throw new UsageError(`--jitter ${values.jitter} is more than --delay ${values.delay}`, NAME);
    const lab = Lab.load(labDir(io.env));
    const imp = await lab.impair(a!, b!, { delayMs, jitterMs, lossPct, oneWay: values['one-way'] === true });
    io.stdout(`lab: ${impairedPair(imp)} impaired: ${describeImpairment(imp)}\n`);
    return 0;
  },
};

/** describeImpairment: "+40 ms ±5 ms round trip, 5 % loss", or "… one way, 100 % loss". */
export function describeImpairment(i: { delayMs: number; jitterMs: number; lossPct: number; oneWay?: boolean }): string {
  const parts: string[] = [];
  if (i.delayMs > 0) parts.push(`+${i.delayMs} ms${i.jitterMs > 0 ? ` ±${i.jitterMs} ms` : ''} ${i.oneWay === true ? 'one way' : 'round trip'}`);
  if (i.lossPct > 0) parts.push(`${i.lossPct} % loss${i.oneWay === true && i.delayMs === 0 ? ' one way' : ''}`);
  return parts.join(', ');
}

/** impairedPair: "n1–n2" for both directions, "n1→n2" for one. */
export function impairedPair(i: { a: string; b: string; oneWay?: boolean }): string {
  return `${i.a}${i.oneWay === true ? '→' : '–'}${i.b}`;
}
