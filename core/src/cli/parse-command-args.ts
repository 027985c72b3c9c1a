/**
 * parseCommandArgs is node:util parseArgs in strict mode, with its errors turned into one-line
 * UsageErrors that name the flag and point at the command's help.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage-error';

export type ParsedArgs<T extends ParseArgsConfig> = ReturnType<typeof parseArgs<T>>;

export function parseCommandArgs<T extends ParseArgsConfig>(command: string, config: T): ParsedArgs<T> {
  try {
    return parseArgs<T>({ ...config, strict: true });
  } catch (err) {
    throw new UsageError(describeParseError(err), command);
  }
}

/** describeParseError rewrites node's long parseArgs messages as a short "what is wrong". */
export function describeParseError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const msg = e.message ?? String(err);
  const quoted = /'([^']+)'/.exec(msg)?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown flag ${quoted ?? msg}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${quoted !== undefined ? `"${quoted}"` : msg}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const flag = /(--[a-z0-9-]+)/i.exec(msg)?.[1];
      if (/argument missing/.test(msg)) return `flag ${flag ?? msg} needs a value`;
      if (/does not take an argument/.test(msg)) return `flag ${flag ?? msg} takes no value`;
      return msg;
    }
    default:
      return msg;
  }
}
