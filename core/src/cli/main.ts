#!/usr/bin/env node
/**
 * cli: the `trellis` command. main.ts only wires the process (argv, stdio, signals, exit code) to
 * runCli; each command lives in commands/ and is testable in process with a captured CliIO.
 */
import { processIO } from './cli-io';
import { runCli } from './run-cli';

void runCli(process.argv.slice(2), processIO()).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`trellis: ${(err as Error)?.message ?? String(err)}\n`);
    process.exit(1);
  },
);
