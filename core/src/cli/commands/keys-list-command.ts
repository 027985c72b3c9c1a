import { ROUTES, type AuthKeyView } from '../../wire';
import { printJson, type Command } from '../command';
import { formatAgo, formatDuration } from '../../text/human-format';
import { renderTable } from '../../text/text-table';
import { adminCommand } from './admin-command';

const NAME = 'keys list';

/** `trellis keys list`: every auth key (never the secrets). */
export const keysListCommand: Command = adminCommand({
  name: NAME,
  summary: 'list auth keys',
  positionals: [],
  description: 'Lists auth keys with their use count and expiry; secrets are never shown.',
  json: true,
  async run({ admin, json, io }) {
    const keys = listOf<AuthKeyView>(await admin.request<unknown>('GET', ROUTES.adminKeys), 'keys');
    if (json) printJson(io, keys);
    else if (keys.length === 0) io.stdout('no auth keys; create one with `trellis keys create`\n');
    else io.stdout(renderKeyTable(keys, Date.now()));
    return 0;
  },
});

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
