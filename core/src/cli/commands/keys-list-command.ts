import { ROUTES, type AuthKeyView } from '../../controller/protocol';
import { ADMIN_FLAG_HELP, ADMIN_FLAG_OPTIONS, resolveAdminTarget } from '../admin-client';
import type { CliIO } from '../cli-io';
import { printJson, type Command } from '../command';
import { formatAgo, formatDuration } from '../human-format';
import { parseCommandArgs } from '../parse-command-args';
import { renderTable } from '../text-table';

const NAME = 'keys list';

/** `trellis keys list`: every auth key (never the secrets). */
export const keysListCommand: Command = {
  name: NAME,
  summary: 'list auth keys',
  help: `Usage: trellis keys list [--json]

Lists auth keys with their use count and expiry; secrets are never shown.

Flags:
  --json      print the keys as JSON
  -h, --help  show this help

${ADMIN_FLAG_HELP}`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values } = parseCommandArgs(NAME, {
      args: argv,
      options: { ...ADMIN_FLAG_OPTIONS, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    const admin = resolveAdminTarget(values, io.env, NAME);
    const keys = listOf<AuthKeyView>(await admin.request<unknown>('GET', ROUTES.adminKeys), 'keys');
    if (values.json) {
      printJson(io, keys);
      return 0;
    }
    if (keys.length === 0) {
      io.stdout('no auth keys; create one with `trellis keys create`\n');
      return 0;
    }
    const now = Date.now();
    io.stdout(renderKeyTable(keys, now));
    return 0;
  },
};

export function renderKeyTable(keys: AuthKeyView[], now: number): string {
  const rows = keys.map((k) => [
    k.id,
    k.reusable ? 'reusable' : 'one-time',
    String(k.uses),
    k.tags.join(',') || '-',
    k.user ?? '-',
    formatAgo(k.createdAt, now),
    k.revoked ? 'revoked' : k.expiresAt <= now ? 'expired' : `in ${formatDuration(k.expiresAt - now)}`,
  ]);
  return renderTable(['ID', 'KIND', 'USES', 'TAGS', 'USER', 'CREATED', 'EXPIRES'], rows);
}

/** listOf accepts a bare array or an object wrapping it under key. */
export function listOf<T>(body: unknown, key: string): T[] {
  if (Array.isArray(body)) return body as T[];
  const inner = (body as Record<string, unknown> | null)?.[key];
  return Array.isArray(inner) ? (inner as T[]) : [];
}
