/**
 * `trellis policy test|check <dir>`: the pinned opa CLI run on a policy folder, locally, with no
 * controller. opa's own output and exit status pass through unchanged, so a policy author reads the
 * compiler's and the test runner's words, and CI can rely on the exit code.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { errors } from '../../errors';
import { resolveOpaBinary } from '../../sys/opa-binary';
import type { CliIO } from '../cli-io';
import type { Command } from '../command';
import { parseCommandArgs } from '../parse-command-args';
import { UsageError } from '../usage-error';

interface OpaCommandSpec {
  name: 'policy test' | 'policy check';
  summary: string;
  /** opa's arguments before the folder, e.g. ['check', '--strict']. */
  opaArgs: string[];
  description: string;
  /** Whether a folder without .rego files is refused before opa runs (opa itself says nothing then). */
  requireRego: boolean;
}

/** OpaInvocation is what a policy test|check command runs: `<opa> <args...>`. */
export interface OpaInvocation {
  opa: string;
  args: string[];
}

/**
 * parseOpaCommand checks argv (`<dir> [-- <opa flags>]`) and returns the opa command line. A
 * missing or unreadable folder is a usage error (exit 2).
 */
export function parseOpaCommand(spec: OpaCommandSpec, argv: string[], io: CliIO): OpaInvocation | 'help' {
  // Everything after the first -- is opa's; trellis's only flag (--help) takes no value.
  const cut = argv.indexOf('--');
  const extra = cut < 0 ? [] : argv.slice(cut + 1);
  const { values, positionals: own } = parseCommandArgs(spec.name, {
    args: cut < 0 ? argv : argv.slice(0, cut),
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return 'help';
  if (own.length === 0) throw new UsageError('<dir> is required: the folder of .rego files, e.g. policies/', spec.name);
  if (own.length > 1) throw new UsageError(`expected one <dir>, got ${own.map((p) => `"${p}"`).join(' ')}; pass opa's own flags after --`, spec.name);
  const dir = own[0]!;
  if (dir.trim() === '') throw new UsageError('<dir> must not be empty', spec.name);
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `${dir} does not exist` : `cannot read ${dir} (${code ?? (err as Error).message})`, spec.name);
  }
  if (!isDir && !dir.endsWith('.rego')) throw new UsageError(`${dir} is neither a folder nor a .rego file`, spec.name);
  if (spec.requireRego && isDir && !holdsRego(dir)) throw errors.policyNoRego(dir);
  return { opa: resolveOpaBinary({ env: io.env, cwd: process.cwd() }), args: [...spec.opaArgs, ...extra, dir] };
}

/** holdsRego tells whether a .rego file lies anywhere under dir, as opa's loader would find it. */
export function holdsRego(dir: string): boolean {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return false;
  }
  return entries.some((e) => (e.isDirectory() ? holdsRego(join(dir, e.name)) : e.name.endsWith('.rego')));
}

/**
 * runOpa runs opa with its output forwarded as it comes and resolves with opa's exit status
 * (128 + signal number when a signal ended it). SIGINT/SIGTERM to trellis is passed on to opa.
 */
export function runOpa(inv: OpaInvocation, io: CliIO): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(inv.opa, inv.args, { env: io.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8').on('data', (t: string) => io.stdout(t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => io.stderr(t));
    const onAbort = () => child.kill('SIGINT');
    io.shutdown.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err: NodeJS.ErrnoException) => {
      io.shutdown.removeEventListener('abort', onAbort);
      reject(errors.opaMissing(inv.opa, err.code ?? err.message));
    });
    child.on('close', (code, signal) => {
      io.shutdown.removeEventListener('abort', onAbort);
      if (code !== null) return resolvePromise(code);
      resolvePromise(128 + (signal ? (constants.signals[signal] ?? 1) : 1));
    });
  });
}

function opaCommand(spec: OpaCommandSpec): Command {
  return {
    name: spec.name,
    summary: spec.summary,
    help: `Usage: trellis ${spec.name} <dir> [-- <opa flags>]

${spec.description}

Runs the pinned opa: $TRELLIS_OPA, else .opa/bin/opa of the Trellis checkout (built by the setup),
else opa on the PATH. Flags after -- go to opa unchanged, before <dir>.

Exit status: opa's own (0 when it is satisfied); 2 when <dir> is missing or not readable.

Flags:
  -h, --help  show this help
`,
    async run(argv: string[], io: CliIO): Promise<number> {
      const inv = parseOpaCommand(spec, argv, io);
      if (inv === 'help') {
        io.stdout(this.help);
        return 0;
      }
      return runOpa(inv, io);
    },
  };
}

export const policyTestCommand = opaCommand({
  name: 'policy test',
  summary: "run a policy folder's Rego tests with opa (no controller needed)",
  opaArgs: ['test', '--fail-on-empty'],
  requireRego: false,
  description: `Runs \`opa test --fail-on-empty <dir>\`: every *_test.rego under <dir> against the policies and
data.json files beside it. A folder with no tests, or with a syntax error, fails with opa's message.
E.g. \`trellis policy test policies/ -- -v --run allow\`.`,
});

export const policyCheckCommand = opaCommand({
  name: 'policy check',
  summary: 'check a policy folder with `opa check --strict` (no controller needed)',
  opaArgs: ['check', '--strict'],
  requireRego: true,
  description: `Runs \`opa check --strict <dir>\`: parses and compiles every .rego file under <dir> in strict mode
(unused variables and imports, deprecated built-ins, shadowed names are errors). A folder with no
.rego files is refused (opa would report nothing), one with a syntax error fails with opa's message.`,
});
