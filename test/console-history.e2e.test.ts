/**
 * The web console's history charts against a real ClickHouse (Debian's 18.16 via
 * scripts/clickhouse.sh, loopback ports): a 3-node lab whose controller loads telemetry-clickhouse;
 * after ~20 s of probes, /console/api/history (over HTTP, with the session cookie of a form login)
 * has a series for every ordered pair with plausible p95 RTTs and recent minutes. The same
 * controller restarted without the plugin answers 404 there and its snapshot hides the panel.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { PathHistorySeries as HistorySeries } from '../core/src/api';
import { Lab } from '../core/src/lab/lab';
import { waitFor } from './support/wait';

jest.setTimeout(150_000);

const SCRIPT = resolve(__dirname, '../scripts/clickhouse.sh');
const NODES = 3;
let dir: string;
let lab: Lab | null = null;
let chStarted = false;
let upAt = 0;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** login posts the console's form with the admin token and returns the session cookie it sets. */
async function login(l: Lab): Promise<string> {
  const token = readFileSync(join(l.state.controller!.dataDir, 'admin.token'), 'utf8').trim();
  const res = await l.controllerFetch('/console/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
    redirect: 'manual',
  });
  expect(res.status).toBe(303);
  const m = /^(trellis_console=[^;]+)/.exec(res.headers.get('set-cookie') ?? '');
  expect(m).not.toBeNull();
  return m![1];
}

const get = (l: Lab, path: string, cookie?: string) => l.controllerFetch(path, { headers: cookie ? { cookie } : {}, redirect: 'manual' });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-console-hist-'));
  const [http, tcp] = [await freePort(), await freePort()];
  execFileSync('bash', [SCRIPT, 'start', join(dir, 'server'), String(http), String(tcp)], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 120_000 });
  chStarted = true;
  lab = await Lab.up({ nodes: NODES, clickhouseUrl: `http://127.0.0.1:${http}` });
  upAt = Date.now();
});

afterAll(async () => {
  try {
    await lab?.down();
  } finally {
    try {
      if (chStarted) execFileSync('bash', [SCRIPT, 'stop', join(dir, 'server')], { stdio: 'inherit', timeout: 60_000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('with ClickHouse: /console/api/history has a series per ordered pair, p95 RTT in (0, 50 ms), recent minutes', async () => {
  const l = lab!;
  // Probes start before the mesh is up, so the minute the lab came up in has probes that waited for
  // a handshake (measured: p95 up to ~360 ms, 20-33 % loss). Let telemetry flow for >= 20 s and
  // until >= 6 s of a minute that began with the mesh up, so every pair has one clean minute.
  const firstCleanMinuteMs = Math.ceil(upAt / 60_000) * 60_000;
  await new Promise((r) => setTimeout(r, Math.max(0, upAt + 20_000, firstCleanMinuteMs + 6_000) - Date.now()));
  expect((await get(l, '/console/api/history')).status).toBe(401);
  const cookie = await login(l);

  const snap = (await (await get(l, '/console/api/snapshot', cookie)).json()) as { history: boolean };
  expect(snap.history).toBe(true);

  const pairs = l.nodeNames.flatMap((a) => l.nodeNames.filter((b) => b !== a).map((b) => `${a}>${b}`)).sort();
  const clean = (s: HistorySeries) => s.points.filter((p) => p.minute * 1000 >= firstCleanMinuteMs);
  const { value: series } = await waitFor(
    'history series with a clean minute for every ordered pair',
    async () => {
      const res = await get(l, '/console/api/history', cookie);
      if (res.status !== 200) throw new Error(`history answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
      const body = (await res.json()) as { series: HistorySeries[] };
      const seen = [...new Set(body.series.filter((s) => clean(s).length > 0).map((s) => `${s.src}>${s.dst}`))].sort();
      return JSON.stringify(seen) === JSON.stringify(pairs) ? body.series : null;
    },
    15_000,
    1000,
  );

  const nowS = Date.now() / 1000;
  for (const s of series) {
    expect(l.nodeNames).toContain(s.src);
    expect(l.nodeNames).toContain(s.dst);
    expect(s.path).toBeTruthy();
    const minutes = s.points.map((p) => p.minute);
    expect(minutes).toEqual([...minutes].sort((a, b) => a - b));
    expect(new Set(minutes).size).toBe(minutes.length); // one point per minute: rollup parts merged
    for (const p of s.points) {
      expect(p.minute % 60).toBe(0);
      expect(p.minute).toBeGreaterThan(nowS - 5 * 60);
      expect(p.minute).toBeLessThanOrEqual(nowS);
      expect(p.lossPercent).toBeGreaterThanOrEqual(0);
      expect(p.lossPercent).toBeLessThanOrEqual(100);
      if (p.p95Ms !== null) expect(p.p95Ms).toBeGreaterThan(0);
    }
    // A minute with the mesh up: loopback-bridge RTTs, every probe answered or nearly.
    for (const p of clean(s)) {
      expect(p.p95Ms).not.toBeNull();
      expect(p.p95Ms!).toBeGreaterThan(0);
      expect(p.p95Ms!).toBeLessThan(50);
      expect(p.lossPercent).toBeLessThan(20);
    }
  }
});

test('without ClickHouse: /console/api/history is 404 and the snapshot hides the history panel', async () => {
  const l = lab!;
  const cfgFile = l.state.configFile!;
  const original = readFileSync(cfgFile, 'utf8');
  try {
    const doc = JSON.parse(original) as { controller: { plugins: Array<string | { name: string }> } };
    doc.controller.plugins = doc.controller.plugins.filter((p) => (typeof p === 'string' ? p : p.name) !== 'telemetry-clickhouse');
    writeFileSync(cfgFile, JSON.stringify(doc));
    await l.stopController();
    await l.startController();

    const cookie = await login(l);
    const res = await get(l, '/console/api/history', cookie);
    expect(res.status).toBe(404);
    expect(await res.text()).toMatch(/telemetry-clickhouse/);

    const snap = (await (await get(l, '/console/api/snapshot', cookie)).json()) as { history: boolean; nodes: unknown[] };
    expect(snap.history).toBe(false);
    expect(snap.nodes).toHaveLength(NODES);
    // The page ships the panel hidden; app.js only reveals it when the snapshot says history.
    const page = await (await get(l, '/console', cookie)).text();
    expect(page).toMatch(/<section id="history-panel"[^>]*\shidden[\s>]/);
    const script = await (await get(l, '/console/app.js')).text();
    expect(script).toContain("$('history-panel').hidden = !snap.history");
  } finally {
    writeFileSync(cfgFile, original);
  }
});
