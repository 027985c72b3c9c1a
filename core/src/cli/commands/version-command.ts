import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CliIO } from '../cli-io';
import type { Command } from '../command';

/** coreVersion reads @trellis/core's package.json (core/package.json from src/cli or dist/cli). */
export function coreVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export const versionCommand: Command = {
  name: 'version',
  summary: 'print the version',
  help: 'Usage: trellis --version\n',
  async run(_argv: string[], io: CliIO): Promise<number> {
    io.stdout(`trellis ${coreVersion()}\n`);
    return 0;
  },
};
