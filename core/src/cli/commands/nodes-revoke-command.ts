import { ROUTES } from '../../wire';
import { ADMIN_FLAG_HELP, ADMIN_FLAG_OPTIONS, resolveAdminTarget } from '../admin-target';
import type { CliIO } from '../cli-io';
import { printJson, type Command } from '../command';
import { parseNodeName } from '../flag-values';
import { parseCommandArgs } from '../parse-command-args';
import { UsageError } from '../usage-error';

const NAME = 'nodes revoke';

/** `trellis nodes revoke <name>`: cut a node out of every peer's map. */
export const nodesRevokeCommand: Command = {
  name: NAME,
  summary: 'revoke a node',
  help: `Usage: trellis nodes revoke <name>

Revokes the node: it disappears from every peer's map and must enroll again with a new key.

Flags:
  --json      print the controller's answer as JSON
  -h, --help  show this help

${ADMIN_FLAG_HELP}`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values, positionals } = parseCommandArgs(NAME, {
      args: argv,
      allowPositionals: true,
      options: { ...ADMIN_FLAG_OPTIONS, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    if (positionals.length !== 1) {
      throw new UsageError(positionals.length === 0 ? 'which node? pass its name' : 'pass exactly one node name', NAME);
    }
    const name = parseNodeName('node name', positionals[0]!, NAME);
    const admin = resolveAdminTarget(values, io.env, NAME);
    const answer = await admin.request<unknown>('POST', ROUTES.adminRevoke.replace(':name', encodeURIComponent(name)));
    if (values.json) printJson(io, answer);
    else io.stdout(`node ${name} revoked\n`);
    return 0;
  },
};
