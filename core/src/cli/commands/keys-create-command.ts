import { ROUTES, type CreateKeyRequest, type CreateKeyResponse } from '../../wire';
import { ADMIN_FLAG_HELP, ADMIN_FLAG_OPTIONS, resolveAdminTarget } from '../admin-target';
import type { CliIO } from '../cli-io';
import { printJson, type Command } from '../command';
import { parseDurationInRange, parseTags } from '../flag-values';
import { formatDuration } from '../../text/human-format';
import { parseCommandArgs } from '../parse-command-args';
import { UsageError } from '../usage-error';

const NAME = 'keys create';

/** `trellis keys create`: a new auth key; its secret is shown once. */
export const keysCreateCommand: Command = {
  name: NAME,
  summary: 'create an auth key for enrolling nodes',
  help: `Usage: trellis keys create [--tags a,b] [--user u] [--reusable] [--ttl 1h] [--key-expiry 90d] [--json]

Creates an auth key. The key is printed once; the controller keeps only its hash.

Flags:
  --tags <a,b>     tags for nodes enrolled with the key (lower-case letters, digits, -)
  --user <name>    user the nodes belong to
  --reusable       allow many enrollments (default: one-time)
  --ttl <dur>      how long the key stays valid: 30m, 1h, 3600s, 7d (default 1h)
  --key-expiry <dur>  nodes enrolled with it expire this long after enrolling and must enroll
                   again (default: controller.settings.keyExpiry by tag, else never)
  --json           print the key as JSON
  -h, --help       show this help

${ADMIN_FLAG_HELP}`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values } = parseCommandArgs(NAME, {
      args: argv,
      options: {
        ...ADMIN_FLAG_OPTIONS,
        tags: { type: 'string' },
        user: { type: 'string' },
        reusable: { type: 'boolean' },
        ttl: { type: 'string' },
        'key-expiry': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    const body: CreateKeyRequest = { reusable: values.reusable ?? false };
    if (values.tags !== undefined) body.tags = parseTags('--tags', values.tags, NAME);
    if (values.user !== undefined) {
      if (values.user.trim() === '') throw new UsageError('--user must not be empty', NAME);
      body.user = values.user;
    }
    if (values.ttl !== undefined) {
      body.ttlSeconds = Math.round(parseDurationInRange('--ttl', values.ttl, NAME, 1000, 365 * 86_400_000) / 1000);
    }
    if (values['key-expiry'] !== undefined) {
      body.nodeTtlSeconds = Math.round(parseDurationInRange('--key-expiry', values['key-expiry'], NAME, 60_000, 3650 * 86_400_000) / 1000);
    }
    const admin = resolveAdminTarget(values, io.env, NAME);
    const key = await admin.request<CreateKeyResponse>('POST', ROUTES.adminKeys, body);
    if (values.json) {
      printJson(io, key);
      return 0;
    }
    io.stdout(`${key.key}\n`);
    io.stderr(
      `key ${key.id}: ${key.reusable ? 'reusable' : 'one-time'}, expires in ${formatDuration(Math.round((key.expiresAt - Date.now()) / 1000) * 1000)}` +
        `${key.tags.length ? `, tags ${key.tags.join(',')}` : ''}${key.user ? `, user ${key.user}` : ''}; it is shown only now\n`,
    );
    return 0;
  },
};
