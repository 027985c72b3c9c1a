/**
 * Flags that may also come from the environment, for the long-running commands (`trellis controller`,
 * `trellis up`): a systemd unit reads them from /etc/trellis/*.env (EnvironmentFile=) and starts the
 * command with no flags. A flag on the command line wins over its variable; an empty variable counts
 * as unset. Each value remembers where it came from, so an error names `--listen` or `TRELLIS_LISTEN`.
 */
import type { ParseArgsConfig } from 'node:util';
import { parseCommandArgs } from './parse-command-args';
import { UsageError } from './usage-error';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface EnvFlagsResult {
  /** Flag values after the environment filled the gaps: strings, booleans, or string lists. */
  values: Record<string, string | boolean | string[] | undefined>;
  /** Where each present value came from: "--flag" or the variable's name. */
  source: Record<string, string>;
}

/** envVarName is the variable for a flag: --data-dir → TRELLIS_DATA_DIR. */
export function envVarName(flag: string): string {
  return `TRELLIS_${flag.toUpperCase().replace(/-/g, '_')}`;
}

const TRUE = /^(1|true|yes|on)$/i;
const FALSE = /^(0|false|no|off)$/i;

/**
 * parseFlagsWithEnv parses argv strictly, then fills every flag in envFlags that argv did not give
 * from its TRELLIS_* variable. Booleans take true/false (1/0, yes/no, on/off); a flag that may repeat
 * takes a comma- or space-separated list.
 */
export function parseFlagsWithEnv(command: string, argv: string[], options: Options, envFlags: readonly string[], env: NodeJS.ProcessEnv): EnvFlagsResult {
  const { values: parsed } = parseCommandArgs(command, { args: argv, options });
  const values: EnvFlagsResult['values'] = { ...(parsed as EnvFlagsResult['values']) };
  const source: Record<string, string> = {};
  for (const k of Object.keys(values)) if (values[k] !== undefined) source[k] = `--${k}`;
  for (const flag of envFlags) {
    const opt = options[flag];
    if (!opt) throw new Error(`parseFlagsWithEnv: ${command} has no flag --${flag}`);
    if (values[flag] !== undefined) continue;
    const name = envVarName(flag);
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') continue;
    if (opt.type === 'boolean') {
      if (TRUE.test(raw.trim())) values[flag] = true;
      else if (FALSE.test(raw.trim())) values[flag] = false;
      else throw new UsageError(`${name} "${raw}" is not true or false`, command);
    } else if (opt.multiple) {
      values[flag] = raw.split(/[\s,]+/).filter((v) => v !== '');
    } else {
      values[flag] = raw.trim();
    }
    source[flag] = name;
  }
  return { values, source };
}

/**
 * requiredFlag returns a string flag's value or says it is missing (naming its variable too when
 * mentionEnv; the command's help lists every variable).
 */
export function requiredFlag(r: EnvFlagsResult, flag: string, hint: string, command: string, mentionEnv = false): string {
  const v = r.values[flag];
  if (typeof v !== 'string') throw new UsageError(`--${flag} ${hint} is required${mentionEnv ? ` (or set ${envVarName(flag)})` : ''}`, command);
  return v;
}

/** optionalFlag returns a string flag's value, if given. */
export function optionalFlag(r: EnvFlagsResult, flag: string): string | undefined {
  const v = r.values[flag];
  return typeof v === 'string' ? v : undefined;
}
