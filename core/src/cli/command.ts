/**
 * Command is one `trellis` subcommand: its name as typed ("keys create"), a one-line summary for
 * `trellis help`, its --help text, and run(), which returns the exit code.
 */
import type { CliIO } from './cli-io';

export interface Command {
  name: string;
  summary: string;
  help: string;
  run(argv: string[], io: CliIO): Promise<number>;
}

/** printJson writes a value as indented JSON, the --json form of every data command. */
export function printJson(io: CliIO, value: unknown): void {
  io.stdout(JSON.stringify(value, null, 2) + '\n');
}
