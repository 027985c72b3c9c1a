/**
 * `trellis audit`: read, follow and verify the controller's hash-chained audit log. `audit verify`
 * asks the running controller, or with --offline checks a data dir's database directly.
 */
import { SseParser } from '../../agent/sse-parser';
import { readSigningPublicKey } from '../../auth/controller-signing-key';
import { isKey32 } from '../../auth/keys';
import { verifySqliteAuditOffline } from '../../store/sqlite/sqlite-audit-reader';
import { ErrorCode, errors, TrellisError } from '../../errors';
import type { AdminClient } from '../../client/admin-client';
import { fetchFailureReason } from '../../sys/fetch-failure';
import { ROUTES, type AuditEvent, type AuditVerifyReport } from '../../wire';
import { ADMIN_FLAG_HELP, ADMIN_FLAG_OPTIONS, resolveAdminTarget } from '../admin-target';
import type { CliIO } from '../cli-io';
import { printJson, type Command } from '../command';
import { parseDuration, parseInteger } from '../flag-values';
import { parseCommandArgs } from '../parse-command-args';
import { renderTable } from '../../text/text-table';
import { UsageError } from '../usage-error';

const NAME = 'audit';
const VERIFY = 'audit verify';

/** parseTime reads a point in time: a duration ago (`1h`, `30m`) or an ISO 8601 time. */
export function parseTime(flag: string, value: string, command: string, now: number): number {
  if (/^\d/.test(value) && /(ms|s|m|h|d)$/.test(value.trim())) return now - parseDuration(flag, value, command);
  const at = Date.parse(value);
  if (Number.isNaN(at)) throw new UsageError(`${flag} "${value}" is not a time; use a duration ago (30m, 2h, 7d) or an ISO time (2026-01-31T12:00:00Z)`, command);
  return at;
}

const TYPE = /^[a-z0-9_.-]+(,[a-z0-9_.-]+)*$/;

function detailsText(d: Record<string, unknown>): string {
  const text = JSON.stringify(d);
  return text === '{}' ? '-' : text.length > 100 ? `${text.slice(0, 99)}…` : text;
}

export function renderAuditTable(events: readonly AuditEvent[]): string {
  return renderTable(
    ['SEQ', 'TIME', 'ACTION', 'ACTOR', 'TARGET', 'DETAILS'],
    events.map((e) => [String(e.seq), new Date(e.at).toISOString(), e.action, e.actor, e.target ?? '-', detailsText(e.details)]),
  );
}

/** `trellis audit`: the audit log, filtered, once or followed. */
export const auditCommand: Command = {
  name: NAME,
  summary: 'read or follow the audit log',
  help: `Usage: trellis audit [--since <t>] [--until <t>] [--node <name>] [--type <a,b>] [--limit <n>] [--follow] [--json]

Prints audit log entries, oldest first: enrolments, admin actions, failed authentications (one
by one, then summed per source and minute), connection events reported by agents, checkpoints.

Flags:
  --since <t>      entries at or after t: a duration ago (30m, 2h, 7d) or an ISO time
  --until <t>      entries before t
  --node <name>    entries about a node (its name or id): target, actor, or named in the details
  --type <a,b>     action families: auth, node, admin.key, conn.tunnel, policy, ...
  --limit <n>      at most n entries, the newest (default 100, at most 1000)
  --follow         keep printing new entries as they are written, until Ctrl-C
  --json           JSON: an array; with --follow one JSON object per line (for a SIEM)
  -h, --help       show this help

${ADMIN_FLAG_HELP}`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values, positionals } = parseCommandArgs(NAME, {
      args: argv,
      allowPositionals: true,
      options: {
        ...ADMIN_FLAG_OPTIONS,
        since: { type: 'string' },
        until: { type: 'string' },
        node: { type: 'string' },
        type: { type: 'string' },
        limit: { type: 'string' },
        follow: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" (did you mean \`trellis audit verify\`?)`, NAME);
    const now = Date.now();
    const q = new URLSearchParams();
    if (values.since !== undefined) q.set('since', String(parseTime('--since', values.since, NAME, now)));
    if (values.until !== undefined) q.set('until', String(parseTime('--until', values.until, NAME, now)));
    if (values.since !== undefined && values.until !== undefined && Number(q.get('since')) >= Number(q.get('until'))) {
      throw new UsageError('--since must be before --until', NAME);
    }
    if (values.node !== undefined) {
      if (values.node.trim() === '' || values.node.length > 128) throw new UsageError('--node takes a node name or id', NAME);
      q.set('node', values.node);
    }
    if (values.type !== undefined) {
      if (!TYPE.test(values.type)) throw new UsageError(`--type "${values.type}" is not a list of action families, e.g. auth,node.revoked`, NAME);
      q.set('type', values.type);
    }
    if (values.limit !== undefined) q.set('limit', String(parseInteger('--limit', values.limit, NAME, 1, 1000)));
    const admin = resolveAdminTarget(values, io.env, NAME);

    if (!values.follow) {
      const events = await admin.request<AuditEvent[]>('GET', ROUTES.adminAudit + (q.toString() ? `?${q.toString()}` : ''));
      if (values.json) printJson(io, events);
      else if (events.length === 0) io.stdout('no audit entries match\n');
      else io.stdout(renderAuditTable(events));
      return 0;
    }

    // Follow: what the filters select from the log's end on, until Ctrl-C.
    return followAudit(admin, q, values.json === true, io);
  },
};

/** With several controllers, how many times in a row a broken follow stream may fail to reopen (1 s apart). */
const FOLLOW_REOPEN_TRIES = 30;

/**
 * followAudit prints what the filters select from the log's end on, until Ctrl-C. With several
 * controllers sharing one store, a stream that breaks (its controller stopped) is reopened on the
 * next one after the last entry seen, so nothing is printed twice or skipped.
 */
async function followAudit(admin: AdminClient, q: URLSearchParams, json: boolean, io: CliIO): Promise<number> {
  let header = !json;
  /** The last entry shown (or where the first stream started): a reopened stream continues after it. */
  let after: number | null = null;
  let failures = 0;
  for (;;) {
    const query = new URLSearchParams(q);
    if (after !== null) query.set('afterSeq', String(after));
    const qs = query.toString() ? `?${query.toString()}` : '';
    const from = admin.url;
    let broken: string;
    try {
      const res = await admin.fetch(ROUTES.adminAuditStream + qs, { signal: io.shutdown });
      if (!res.ok || !res.body) throw errors.controllerUnreachable(admin.url, `HTTP ${res.status}: ${await errorMessage(res)}`);
      if (failures > 0 || after !== null) io.stderr(`trellis: following the audit log on ${admin.url}${after !== null ? ` after entry ${after}` : ''}\n`);
      failures = 0;
      const parser = new SseParser();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        for (const ev of parser.push(chunk)) {
          if (ev.event === 'ready' && after === null) after = (JSON.parse(ev.data) as { afterSeq: number }).afterSeq;
          if (ev.event !== 'audit') continue;
          const e = JSON.parse(ev.data) as AuditEvent;
          after = e.seq;
          if (json) io.stdout(JSON.stringify(e) + '\n');
          else {
            const table = renderAuditTable([e]).split('\n');
            io.stdout((header ? table[0] + '\n' : '') + table[1] + '\n');
            header = false;
          }
        }
      }
      broken = 'the controller ended the stream';
    } catch (err) {
      if (io.shutdown.aborted) return 0;
      // An answer that is not an outage (a wrong token, a bad filter) is final.
      if (err instanceof TrellisError && err.code !== ErrorCode.CONTROLLER_UNREACHABLE) throw err;
      broken = err instanceof TrellisError ? err.message : fetchFailureReason(err);
    }
    if (io.shutdown.aborted) return 0;
    if (admin.urls.length < 2) {
      if (broken === 'the controller ended the stream') return 0;
      throw errors.controllerUnreachable(from, `the follow stream broke: ${broken}`);
    }
    if (++failures > FOLLOW_REOPEN_TRIES) throw errors.controllerUnreachable(admin.urls.join(', '), `the follow stream could not be reopened: ${broken}`);
    io.stderr(`trellis: the audit stream from ${from} broke (${broken}); reopening on ${admin.urls.join(', ')}\n`);
    await new Promise((r) => setTimeout(r, failures === 1 ? 0 : 1000));
  }
}

async function errorMessage(res: Response): Promise<string> {
  const text = await res.text();
  try {
    return (JSON.parse(text) as { error: { message: string } }).error.message;
  } catch {
    return text.slice(0, 200);
  }
}

/** describeReport is the human form of a verification. */
export function describeReport(r: AuditVerifyReport): string {
  const sig = r.checkpoints.signaturesChecked ? `${r.checkpoints.verified} of ${r.checkpoints.total} checkpoint signatures verified` : `${r.checkpoints.total} checkpoints (signatures not checked: no public key)`;
  const counts = `${r.entries} entries (${r.chained} chained${r.legacy ? `, ${r.legacy} older than the chain, covered by its start` : ''})`;
  if (!r.firstBad) {
    return `audit chain OK: ${counts}; ${sig}; ${r.unsignedTail} entries after the last checkpoint${r.headSeq !== null ? `; head ${r.headSeq} ${r.headHash?.slice(0, 16) ?? ''}` : ''}\n`;
  }
  return `audit chain BROKEN at entry ${r.firstBad.seq} (${r.firstBad.kind}): ${r.firstBad.message}\n  read ${counts}; ${sig} before the break\n`;
}

/** `trellis audit verify`: walk the chain and name the first bad entry. */
export const auditVerifyCommand: Command = {
  name: VERIFY,
  summary: 'verify the audit hash chain and its signed checkpoints',
  help: `Usage: trellis audit verify [--offline --data-dir <dir> [--public-key <base64>]] [--json]

Walks the audit log's hash chain and checks every checkpoint's signature with the controller's
key. Any edited, deleted, inserted or reordered entry breaks the chain; the first bad entry is
named. Exit status 0 when intact, 1 when broken.

Flags:
  --offline              read <data-dir>/trellis.db directly (read-only; the controller may be stopped)
  --public-key <base64>  with --offline: the controller's public key as you recorded it
                         (default: <data-dir>/signing.pub, which whoever can edit the database may also edit)
  --json                 print the report as JSON
  -h, --help             show this help

${ADMIN_FLAG_HELP}`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values, positionals } = parseCommandArgs(VERIFY, {
      args: argv,
      allowPositionals: true,
      options: { ...ADMIN_FLAG_OPTIONS, offline: { type: 'boolean' }, 'public-key': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, VERIFY);
    let report: AuditVerifyReport;
    if (values.offline) {
      const dataDir = values['data-dir'];
      if (dataDir === undefined) throw new UsageError('--offline needs --data-dir <dir>, the controller\'s data dir', VERIFY);
      const key = values['public-key'];
      if (key !== undefined && !isKey32(key)) throw new UsageError('--public-key takes the base64 Ed25519 public key from signing.pub', VERIFY);
      report = await verifySqliteAuditOffline(dataDir, key ?? readSigningPublicKey(dataDir));
    } else {
      if (values['public-key'] !== undefined) throw new UsageError('--public-key goes with --offline; the controller checks with its own key', VERIFY);
      report = await resolveAdminTarget(values, io.env, VERIFY).request<AuditVerifyReport>('GET', ROUTES.adminAuditVerify);
    }
    if (values.json) printJson(io, report);
    else io.stdout(describeReport(report));
    return report.ok ? 0 : 1;
  },
};
