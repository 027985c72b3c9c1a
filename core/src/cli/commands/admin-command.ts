/**
 * adminCommand builds a command that talks to the controller's admin API from a small spec:
 * its positional arguments (each required), extra flags, and what it does with the answer.
 * --json, --help and the controller flags come with it.
 */
import type { ParseArgsConfig } from 'node:util';
import type { AdminClient } from '../../client/admin-client';
import { ADMIN_FLAG_HELP, ADMIN_FLAG_OPTIONS, resolveAdminTarget } from '../admin-target';
import type { CliIO } from '../cli-io';
import type { Command } from '../command';
import { parseCommandArgs } from '../parse-command-args';
import { UsageError } from '../usage-error';

export interface AdminCommandSpec {
  name: string;
  summary: string;
  /** e.g. "<name>"; each positional is required. */
  positionals: string[];
  description: string;
  /** Extra flags: parseArgs options and their help lines. */
  flags?: { options: NonNullable<ParseArgsConfig['options']>; help: string };
  /** Whether the command prints data (then --json is offered). */
  json: boolean;
  run(ctx: {
    admin: AdminClient;
    args: string[];
    values: Record<string, string | boolean | undefined>;
    json: boolean;
    io: CliIO;
  }): Promise<number>;
}

export function adminCommand(spec: AdminCommandSpec): Command {
  const usage = `trellis ${spec.name}${spec.positionals.length ? ` ${spec.positionals.join(' ')}` : ''}`;
  return {
    name: spec.name,
    summary: spec.summary,
    help: `Usage: ${usage} [flags]

${spec.description}

Flags:
${spec.flags?.help ?? ''}${spec.json ? '  --json      print the answer as JSON\n' : ''}  -h, --help  show this help

${ADMIN_FLAG_HELP}`,
    async run(argv: string[], io: CliIO): Promise<number> {
      const { values, positionals } = parseCommandArgs(spec.name, {
        args: argv,
        allowPositionals: true,
        options: {
          ...ADMIN_FLAG_OPTIONS,
          ...(spec.flags?.options ?? {}),
          ...(spec.json ? { json: { type: 'boolean' } } : {}),
          help: { type: 'boolean', short: 'h' },
        },
      });
      if (values.help) {
        io.stdout(this.help);
        return 0;
      }
      if (spec.positionals.length === 0 && positionals.length > 0) {
        throw new UsageError(`unexpected argument "${positionals[0]}"`, spec.name);
      }
      if (positionals.length !== spec.positionals.length) {
        const what = spec.positionals.length === 0 ? 'no arguments' : `${spec.positionals.join(' ')}`;
        throw new UsageError(`expected ${what}, got ${positionals.length === 0 ? 'none' : positionals.map((p) => `"${p}"`).join(' ')}`, spec.name);
      }
      for (const [i, p] of positionals.entries()) {
        if (p.trim() === '') throw new UsageError(`${spec.positionals[i]} must not be empty`, spec.name);
      }
      const admin = resolveAdminTarget(values as Record<string, string | undefined>, io.env, spec.name);
      const vals = values as Record<string, string | boolean | undefined>;
      return spec.run({ admin, args: positionals, values: vals, json: vals.json === true, io });
    },
  };
}

/** pathPart encodes one URL path segment. */
export const pathPart = (s: string) => encodeURIComponent(s);
