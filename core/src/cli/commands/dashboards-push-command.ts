/**
 * `trellis dashboards push`: uploads the generated dashboards/ directory to a running Grafana:
 * the Trellis folder, every dashboard (POST /api/dashboards/db with overwrite) and every alert rule
 * (provisioning API: PUT by uid when it exists, POST otherwise). Idempotent by uid; it reports what
 * it created, updated and what failed, and exits 1 when anything failed.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { errors } from '../../errors';
import { fetchFailureReason } from '../../sys/fetch-failure';
import type { CliIO } from '../cli-io';
import { printJson, type Command } from '../command';
import { parseCommandArgs } from '../parse-command-args';
import { UsageError } from '../usage-error';

const NAME = 'dashboards push';

export interface PushOutcome {
  kind: 'folder' | 'dashboard' | 'alert-rule';
  uid: string;
  result: 'created' | 'updated' | 'failed';
  error?: string;
}

interface ProvisionedGroup {
  orgId?: number;
  name: string;
  folder: string;
  rules: Array<Record<string, unknown> & { uid: string }>;
}

/** GrafanaClient is the few Grafana HTTP API calls push needs; auth and reachability errors are fatal. */
class GrafanaClient {
  constructor(
    private readonly base: string,
    private readonly token: string,
  ) {}

  async call(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          // Pushed rules stay editable in the UI, like the dashboards (overwrite on next push).
          ...(path.startsWith('/api/v1/provisioning/') ? { 'x-disable-provenance': 'true' } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (err) {
      throw errors.grafanaUnreachable(this.base, fetchFailureReason(err));
    }
    if (res.status === 401 || res.status === 403) throw errors.grafanaUnauthorized(this.base, res.status);
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { status: res.status, json, text };
  }
}

function failure(r: { status: number; json: unknown; text: string }): string {
  const msg = (r.json as { message?: string } | null)?.message ?? r.text.slice(0, 200);
  return `HTTP ${r.status}${msg ? `: ${msg}` : ''}`;
}

function readDir(dir: string): { dashboards: Array<Record<string, unknown> & { uid: string; title: string }>; groups: ProvisionedGroup[]; folderUid: string; folderTitle: string } {
  const jsonDir = join(dir, 'json');
  if (!existsSync(jsonDir)) throw errors.dashboardsMissing(dir, 'has no json/ folder of dashboards');
  const dashboards = readdirSync(jsonDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const d = JSON.parse(readFileSync(join(jsonDir, f), 'utf8')) as Record<string, unknown> & { uid: string; title: string };
      if (typeof d.uid !== 'string' || typeof d.title !== 'string') throw errors.dashboardsMissing(join(jsonDir, f), 'is not a dashboard with a uid and a title');
      return d;
    });
  const providerFile = join(dir, 'provisioning/dashboards/trellis.yaml');
  const rulesFile = join(dir, 'provisioning/alerting/trellis-alert-rules.yaml');
  if (!existsSync(providerFile) || !existsSync(rulesFile)) throw errors.dashboardsMissing(dir, 'lacks provisioning/dashboards/trellis.yaml or provisioning/alerting/trellis-alert-rules.yaml');
  const provider = (parseYaml(readFileSync(providerFile, 'utf8')) as { providers: Array<{ folder: string; folderUid: string }> }).providers[0]!;
  const groups = (parseYaml(readFileSync(rulesFile, 'utf8')) as { groups: ProvisionedGroup[] }).groups ?? [];
  return { dashboards, groups, folderUid: provider.folderUid, folderTitle: provider.folder };
}

/** pushDashboards does the upload; exported for tests and for scripts that want the outcomes. */
export async function pushDashboards(grafana: string, token: string, dir: string): Promise<PushOutcome[]> {
  const g = new GrafanaClient(grafana.replace(/\/+$/, ''), token);
  const { dashboards, groups, folderUid, folderTitle } = readDir(dir);
  const out: PushOutcome[] = [];

  const folder = await g.call('GET', `/api/folders/${encodeURIComponent(folderUid)}`);
  if (folder.status === 404) {
    const made = await g.call('POST', '/api/folders', { uid: folderUid, title: folderTitle });
    out.push({ kind: 'folder', uid: folderUid, result: made.status < 300 ? 'created' : 'failed', ...(made.status < 300 ? {} : { error: failure(made) }) });
  } else if (folder.status >= 300) {
    out.push({ kind: 'folder', uid: folderUid, result: 'failed', error: failure(folder) });
  }

  for (const d of dashboards) {
    const existing = await g.call('GET', `/api/dashboards/uid/${encodeURIComponent(d.uid)}`);
    const r = await g.call('POST', '/api/dashboards/db', { dashboard: { ...d, id: null }, folderUid, overwrite: true, message: 'trellis dashboards push' });
    if (r.status >= 300) out.push({ kind: 'dashboard', uid: d.uid, result: 'failed', error: failure(r) });
    else out.push({ kind: 'dashboard', uid: d.uid, result: existing.status === 200 ? 'updated' : 'created' });
  }

  for (const group of groups) {
    for (const rule of group.rules) {
      const body = { ...rule, folderUID: folderUid, ruleGroup: group.name, orgID: group.orgId ?? 1 };
      const path = `/api/v1/provisioning/alert-rules/${encodeURIComponent(rule.uid)}`;
      const existing = await g.call('GET', path);
      const r = existing.status === 200 ? await g.call('PUT', path, body) : await g.call('POST', '/api/v1/provisioning/alert-rules', body);
      if (r.status >= 300) out.push({ kind: 'alert-rule', uid: rule.uid, result: 'failed', error: failure(r) });
      else out.push({ kind: 'alert-rule', uid: rule.uid, result: existing.status === 200 ? 'updated' : 'created' });
    }
  }
  return out;
}

function defaultDir(): string {
  const here = resolve('dashboards');
  if (existsSync(join(here, 'json'))) return here;
  // Installed from the repository: core/dist/cli/commands → repository root.
  return resolve(__dirname, '../../../../dashboards');
}

export const dashboardsPushCommand: Command = {
  name: NAME,
  summary: 'upload the generated Grafana dashboards and alert rules',
  help: `Usage: trellis dashboards push --grafana <url> --token <token> [--dir dashboards] [--json]

Uploads every dashboard in <dir>/json (POST /api/dashboards/db, overwrite) into the Trellis folder
and every alert rule in <dir>/provisioning/alerting (provisioning API; PUT by uid when it exists).
Running it again updates in place. Exits 1 when anything failed.

Flags:
  --grafana <url>   Grafana base URL, e.g. http://127.0.0.1:3000
  --token <token>   service-account token (or GRAFANA_TOKEN)
  --dir <path>      the generated dashboards directory (default ./dashboards)
  --json            print the outcomes as JSON
  -h, --help        show this help
`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values } = parseCommandArgs(NAME, {
      args: argv,
      options: { grafana: { type: 'string' }, token: { type: 'string' }, dir: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    if (!values.grafana) throw new UsageError('--grafana <url> is required', NAME);
    let url: URL;
    try {
      url = new URL(values.grafana);
    } catch {
      throw new UsageError(`--grafana "${values.grafana}" is not a URL; use e.g. http://127.0.0.1:3000`, NAME);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--grafana must be an http(s) URL, got "${values.grafana}"`, NAME);
    const token = values.token ?? io.env.GRAFANA_TOKEN;
    if (!token) throw new UsageError('--token <token> is required (or set GRAFANA_TOKEN)', NAME);
    const dir = values.dir ? resolve(values.dir) : defaultDir();
    const outcomes = await pushDashboards(url.toString(), token, dir);
    const failed = outcomes.filter((o) => o.result === 'failed');
    if (values.json) printJson(io, { outcomes });
    else {
      for (const o of outcomes) io.stdout(`${o.result.padEnd(8)} ${o.kind.padEnd(10)} ${o.uid}${o.error ? `: ${o.error}` : ''}\n`);
      const count = (r: string) => outcomes.filter((o) => o.result === r).length;
      io.stdout(`${count('created')} created, ${count('updated')} updated, ${failed.length} failed\n`);
    }
    return failed.length ? 1 : 0;
  },
};
