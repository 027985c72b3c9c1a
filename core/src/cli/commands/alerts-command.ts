import type { LiveAlerts } from '../../api/live-alerts';
import { ErrorCode, errors, TrellisError } from '../../errors';
import { printJson } from '../command';
import { formatAgo } from '../../text/human-format';
import { renderTable } from '../../text/text-table';
import { ROUTES } from '../../wire';
import { adminCommand } from './admin-command';

const labelText = (l: Record<string, string>) =>
  Object.entries(l)
    .filter(([k]) => k !== 'area' && k !== 'severity')
    .map(([k, v]) => `${k}=${v}`)
    .join(' ') || '-';

/** `trellis alerts`: the controller's live alerts (from the plugin that evaluates them): active first, then recently resolved. */
export const alertsCommand = adminCommand({
  name: 'alerts',
  summary: 'list active and recently resolved live alerts',
  positionals: [],
  description: 'Lists the alerts the controller evaluates on live telemetry (a plugin such as alerts-live): active\nones (pending or firing) and recently resolved ones.',
  flags: { options: { limit: { type: 'string' } }, help: '  --limit N   at most N recent alerts (default 20)\n' },
  json: true,
  async run({ admin, values, json, io }) {
    const limit = values.limit === undefined ? 20 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1) throw errors.badRequest(`--limit must be a whole number above 0, got "${String(values.limit)}"`);
    let answer: LiveAlerts;
    try {
      answer = await admin.request<LiveAlerts>('GET', `${ROUTES.adminAlerts}?limit=${limit}`);
    } catch (err) {
      if (err instanceof TrellisError && err.code === ErrorCode.NOT_FOUND) throw errors.notFound(`${ROUTES.adminAlerts} on ${admin.url}: ${err.message}`);
      throw err;
    }
    if (json) {
      printJson(io, answer);
      return 0;
    }
    const now = Date.now();
    io.stdout(
      answer.active.length === 0
        ? 'no active alerts\n'
        : renderTable(
            ['STATE', 'ALERT', 'LABELS', 'VALUE', 'THRESHOLD', 'SINCE'],
            answer.active.map((a) => [a.state ?? '-', a.title, labelText(a.labels), String(a.value), String(a.threshold), formatAgo(a.startsAt ?? a.pendingSince ?? null, now)]),
          ),
    );
    if (answer.recent.length > 0) {
      io.stdout('\nrecently resolved:\n');
      io.stdout(renderTable(['ALERT', 'LABELS', 'FIRED', 'RESOLVED'], answer.recent.map((a) => [a.title, labelText(a.labels), formatAgo(a.startsAt, now), formatAgo(a.endsAt ?? null, now)])));
    }
    return 0;
  },
});
