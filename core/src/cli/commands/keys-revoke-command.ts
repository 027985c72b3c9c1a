import { ROUTES, type AuthKeyView } from '../../wire';
import { printJson, type Command } from '../command';
import { UsageError } from '../usage-error';
import { adminCommand, pathPart } from './admin-command';

const NAME = 'keys revoke';

/** `trellis keys revoke <id>`: no further enrolment with this auth key. */
export const keysRevokeCommand: Command = adminCommand({
  name: NAME,
  summary: 'revoke an auth key',
  positionals: ['<id>'],
  description: 'Revokes the auth key (its id from `trellis keys list`): every later enrolment with it is refused.\nNodes it already enrolled stay; revoke them with `trellis nodes revoke`.',
  flags: { options: { reason: { type: 'string' } }, help: '  --reason <text>  why, for the audit log\n' },
  json: true,
  async run({ admin, args, values, json, io }) {
    const id = args[0]!;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new UsageError(`"${id}" is not an auth key id; see \`trellis keys list\``, NAME);
    const reason = values.reason;
    if (reason !== undefined && (typeof reason !== 'string' || reason.length > 256)) throw new UsageError('--reason takes at most 256 characters', NAME);
    const key = await admin.request<AuthKeyView>('POST', ROUTES.adminKeyRevoke.replace(':id', pathPart(id)), reason === undefined ? undefined : { reason });
    if (json) printJson(io, key);
    else io.stdout(`auth key ${key.id} revoked\n`);
    return 0;
  },
});
