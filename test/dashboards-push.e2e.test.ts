/**
 * `trellis dashboards push` against a fake Grafana: a small HTTP server written here (a boundary
 * fake standing in for Grafana's HTTP API, not for any Trellis component) that checks paths, the
 * bearer token and the bodies, and keeps what was uploaded so a second push must update in place.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { runCli } from '../core/src/cli/run-cli';
import { captureIO } from '../core/src/cli/testing/capture-io';

const TOKEN = 'glsa_test_token';
const DIR = resolve(__dirname, '../dashboards');
/** Every generated alert rule (dashboards/alert-conditions.json lists them). */
const nRules = (JSON.parse(readFileSync(resolve(DIR, 'alert-conditions.json'), 'utf8')) as { conditions: unknown[] }).conditions.length;

interface Fake {
  server: Server;
  url: string;
  folders: Map<string, unknown>;
  dashboards: Map<string, Record<string, unknown>>;
  rules: Map<string, Record<string, unknown>>;
  log: string[];
  rejectRule?: string;
}

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  let s = '';
  for await (const c of req) s += c;
  return s ? JSON.parse(s) : {};
}

async function fakeGrafana(): Promise<Fake> {
  const f = { folders: new Map(), dashboards: new Map(), rules: new Map(), log: [] as string[] } as unknown as Fake;
  f.server = createServer(async (req, res) => {
    const send = (status: number, json: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(json));
    };
    const path = req.url ?? '';
    f.log.push(`${req.method} ${path}`);
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(401, { message: 'invalid API key' });
    const b = req.method === 'GET' ? {} : await body(req);
    let m: RegExpMatchArray | null;
    if (req.method === 'GET' && (m = path.match(/^\/api\/folders\/([^/]+)$/))) return f.folders.has(m[1]!) ? send(200, f.folders.get(m[1]!)) : send(404, { message: 'folder not found' });
    if (req.method === 'POST' && path === '/api/folders') {
      if (typeof b.uid !== 'string' || typeof b.title !== 'string') return send(400, { message: 'uid and title required' });
      f.folders.set(b.uid, b);
      return send(200, b);
    }
    if (req.method === 'GET' && (m = path.match(/^\/api\/dashboards\/uid\/([^/]+)$/))) return f.dashboards.has(m[1]!) ? send(200, { dashboard: f.dashboards.get(m[1]!) }) : send(404, { message: 'Dashboard not found' });
    if (req.method === 'POST' && path === '/api/dashboards/db') {
      const d = b.dashboard as Record<string, unknown> | undefined;
      if (!d || typeof d.uid !== 'string' || b.overwrite !== true || !f.folders.has(b.folderUid as string) || d.id !== null || !Array.isArray(d.panels)) return send(400, { message: 'bad dashboard body' });
      f.dashboards.set(d.uid, d);
      return send(200, { status: 'success', uid: d.uid });
    }
    if ((m = path.match(/^\/api\/v1\/provisioning\/alert-rules\/([^/]+)$/))) {
      const uid = decodeURIComponent(m[1]!);
      if (req.method === 'GET') return f.rules.has(uid) ? send(200, f.rules.get(uid)) : send(404, { message: 'not found' });
      if (req.method === 'PUT') {
        if (!f.rules.has(uid) || b.uid !== uid) return send(404, { message: 'rule not found' });
        f.rules.set(uid, b);
        return send(200, b);
      }
    }
    if (req.method === 'POST' && path === '/api/v1/provisioning/alert-rules') {
      if (req.headers['x-disable-provenance'] !== 'true') return send(400, { message: 'expected X-Disable-Provenance' });
      if (b.uid === f.rejectRule) return send(400, { message: 'invalid alert rule: bad condition' });
      const ok = typeof b.uid === 'string' && typeof b.title === 'string' && b.condition === 'B' && Array.isArray(b.data) && b.folderUID === 'trellis' && b.ruleGroup === 'trellis-mesh' && typeof b.for === 'string';
      if (!ok) return send(400, { message: 'bad rule body' });
      f.rules.set(b.uid as string, b);
      return send(201, b);
    }
    send(404, { message: `no route ${req.method} ${path}` });
  });
  await new Promise<void>((r) => f.server.listen(0, '127.0.0.1', r));
  f.url = `http://127.0.0.1:${(f.server.address() as AddressInfo).port}`;
  return f;
}

let fake: Fake;
beforeEach(async () => {
  fake = await fakeGrafana();
});
afterEach(async () => {
  await new Promise((r) => fake.server.close(r));
});

const push = async (...extra: string[]) => {
  const io = captureIO();
  const code = await runCli(['dashboards', 'push', '--grafana', fake.url, '--dir', DIR, ...extra], io);
  return { code, io };
};

test('first push creates the folder, every dashboard and every rule; a second push updates them in place', async () => {
  const nDash = readdirSync(resolve(DIR, 'json')).length;
  expect(nRules).toBeGreaterThanOrEqual(9);
  const first = await push('--token', TOKEN);
  expect(first.io.err).toBe('');
  expect(first.code).toBe(0);
  expect(fake.dashboards.size).toBe(nDash);
  expect(fake.rules.size).toBe(nRules);
  expect(first.io.out).toMatch(new RegExp(`${1 + nDash + nRules} created, 0 updated, 0 failed`));
  expect(first.io.out).toMatch(/created\s+alert-rule trellis-path-loss/);
  expect([...fake.dashboards.keys()].sort()).toEqual(['trellis-audit', 'trellis-controller-devices', 'trellis-latency-matrix', 'trellis-mesh-overview', 'trellis-node-detail', 'trellis-posture-access', 'trellis-traffic-shaping']);

  const second = await push('--token', TOKEN, '--json');
  expect(second.code).toBe(0);
  const { outcomes } = JSON.parse(second.io.out) as { outcomes: Array<{ kind: string; result: string }> };
  expect(outcomes.filter((o) => o.result === 'updated')).toHaveLength(nDash + nRules);
  expect(outcomes.filter((o) => o.result !== 'updated')).toEqual([]);
  expect(fake.log.filter((l) => l.startsWith('PUT /api/v1/provisioning/alert-rules/'))).toHaveLength(nRules);
  expect(fake.rules.size).toBe(nRules);
});

test('a rejected rule is reported as failed, the rest still lands, and the exit code is 1', async () => {
  fake.rejectRule = 'trellis-posture';
  const r = await push('--token', TOKEN);
  expect(r.code).toBe(1);
  expect(r.io.out).toMatch(/failed\s+alert-rule trellis-posture: HTTP 400: invalid alert rule: bad condition/);
  expect(r.io.out).toMatch(/, 1 failed/);
  expect(fake.rules.size).toBe(nRules - 1);
});

test('a rejected token and an unreachable Grafana give clear errors; a bad URL is a usage error', async () => {
  const bad = await push('--token', 'wrong');
  expect(bad.code).toBe(1);
  expect(bad.io.err).toMatch(/rejected the token \(HTTP 401\).*TRELLIS_ERR_GRAFANA_UNAUTHORIZED/);
  expect(fake.dashboards.size).toBe(0);

  const url = fake.url;
  await new Promise((r) => fake.server.close(r));
  const io = captureIO();
  expect(await runCli(['dashboards', 'push', '--grafana', url, '--token', TOKEN, '--dir', DIR], io)).toBe(1);
  expect(io.err).toMatch(/Grafana at .* is unreachable \(ECONNREFUSED\).*TRELLIS_ERR_GRAFANA_UNREACHABLE/);
  fake.server = createServer().listen(0);

  const usage = captureIO();
  expect(await runCli(['dashboards', 'push', '--grafana', 'not a url', '--token', TOKEN], usage)).toBe(2);
  expect(usage.err).toMatch(/--grafana "not a url" is not a URL/);
  const noToken = captureIO();
  expect(await runCli(['dashboards', 'push', '--grafana', url], noToken)).toBe(2);
  expect(noToken.err).toMatch(/--token <token> is required/);
});
