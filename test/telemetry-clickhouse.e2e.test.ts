/**
 * Live telemetry into a real ClickHouse (Debian's 18.16 via scripts/clickhouse.sh, loopback ports):
 * a 4-node lab whose controller loads telemetry-clickhouse (`Lab.up({ clickhouseUrl })`). Probe
 * rows for every ordered pair arrive; a 30 s ClickHouse outage loses no probe seq and duplicates
 * none; the web console's history charts read it (/console/api/history over HTTP, with the session
 * cookie of a form login: a series for every ordered pair with plausible p95 RTTs and recent
 * minutes); bad plugin configs leave a clear error in the controller log while the mesh keeps
 * running; the same controller restarted without the plugin answers 404 for history and its
 * snapshot hides the panel. One ClickHouse and one lab serve every test of the file.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PathHistorySeries as HistorySeries } from '../core/src/api';
import { Lab } from '../core/src/lab/lab';
import { ClickHouseServer } from './support/clickhouse-server';
import { freePort } from './support/free-port';
import { waitFor } from './support/wait';

jest.setTimeout(300_000);

const NODES = 4;
let dir: string;
let url: string;
let lab: Lab | null = null;
let server: ClickHouseServer | undefined;
let upAt = 0;

const startServer = () => server!.start();
const stopServer = () => server?.stop();

async function query<T>(sql: string): Promise<T[]> {
  const res = await fetch(`${url}/?database=trellis`, { method: 'POST', body: `${sql} FORMAT JSON`, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`ClickHouse ${res.status}: ${text.slice(0, 300)}`);
  return (JSON.parse(text) as { data: T[] }).data;
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

interface PairRow {
  src: string;
  dst: string;
  n: string;
  lost: string;
  min_rtt: string;
  max_rtt: string;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-telch-'));
  server = await ClickHouseServer.start(dir);
  url = server.url;
  lab = await Lab.up({ nodes: NODES, clickhouseUrl: url });
  upAt = Date.now();
});

afterAll(async () => {
  try {
    await lab?.down();
  } finally {
    try {
      stopServer();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('probe rows for all 12 ordered pairs arrive within 30 s, RTT in (0, 50 ms), no loss', async () => {
  const since = Date.now() + 3000; // after the first handshakes settled
  const { value } = await waitFor(
    'probe rows for every ordered pair',
    async () => {
      const rows = await query<PairRow>(
        `SELECT src, dst, count() AS n, sum(lost) AS lost, min(rtt_us) AS min_rtt, max(rtt_us) AS max_rtt
         FROM trellis_probe_samples FINAL WHERE ts_ms >= ${since} GROUP BY src, dst ORDER BY src, dst`,
      );
      return rows.length === NODES * (NODES - 1) && rows.every((r) => Number(r.n) >= 2) ? rows : null;
    },
    30_000,
    500,
  );
  for (const r of value) {
    expect(r.src).not.toBe(r.dst);
    expect(Number(r.lost)).toBe(0);
    expect(Number(r.min_rtt)).toBeGreaterThan(0);
    expect(Number(r.max_rtt)).toBeLessThan(50_000);
  }
});

test('a 30 s ClickHouse outage: every probe seq of the outage arrives, no gaps, no duplicates', async () => {
  const from = Date.now();
  stopServer();
  await new Promise((r) => setTimeout(r, 30_000));
  startServer();
  const to = Date.now() + 3000;
  await new Promise((r) => setTimeout(r, 3500));
  interface SeqRow {
    src: string;
    dst: string;
    n: string;
    uniq: string;
    lo: string;
    hi: string;
  }
  const { value } = await waitFor(
    'the outage window to be replayed',
    async () => {
      const rows = await query<SeqRow>(
        `SELECT src, dst, count() AS n, uniqExact(seq) AS uniq, min(seq) AS lo, max(seq) AS hi
         FROM trellis_probe_samples FINAL WHERE ts_ms >= ${from} AND ts_ms <= ${to} GROUP BY src, dst ORDER BY src, dst`,
      );
      const complete = rows.length === NODES * (NODES - 1) && rows.every((r) => BigInt(r.hi) - BigInt(r.lo) + 1n === BigInt(r.uniq));
      return complete ? rows : null;
    },
    90_000,
    1000,
  );
  for (const r of value) {
    expect(r.n).toBe(r.uniq); // no duplicates
    expect(BigInt(r.hi) - BigInt(r.lo) + 1n).toBe(BigInt(r.n)); // no gaps
    expect(Number(r.n)).toBeGreaterThanOrEqual(30); // ~1 probe a second for 33 s
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

test('bad configs (wrong URL, bad credentials, bad table prefix) log a clear error; controller and agents keep running', async () => {
  const l = lab!;
  const cfgFile = l.state.configFile!;
  const original = readFileSync(cfgFile, 'utf8');
  const log = () => readFileSync(l.state.controller!.log, 'utf8');
  const cases: Array<{ config: Record<string, unknown>; expect: RegExp }> = [
    { config: { url: `http://127.0.0.1:${await freePort()}` }, expect: /TRELLIS_ERR_CLICKHOUSE_UNREACHABLE|not reachable|ECONNREFUSED/ },
    { config: { url, username: 'trellis', password: 'wrong' }, expect: /TRELLIS_ERR_CLICKHOUSE_AUTH|credentials|password/i },
    // Passes the schema's identifier pattern, but no server can create tables with names this long.
    { config: { url, tablePrefix: 'p'.repeat(300) }, expect: /telemetry-clickhouse[\s\S]*setup failed|plugin setup failed/ },
  ];
  try {
    for (const c of cases) {
      const doc = JSON.parse(original) as { controller: { plugins: Array<{ name: string; config: Record<string, unknown> }> } };
      const entry = doc.controller.plugins.find((p) => p.name === 'telemetry-clickhouse')!;
      entry.config = { ...entry.config, requestTimeoutMs: 2000, ...c.config };
      writeFileSync(cfgFile, JSON.stringify(doc));
      const before = log().length;
      await l.stopController();
      await l.startController();
      const { value: text } = await waitFor('the plugin error in the controller log', () => {
        const t = log().slice(before);
        return /plugin setup failed/.test(t) ? t : null;
      }, 20_000, 200);
      expect(text).toMatch(c.expect);
      const health = await l.controllerFetch('/healthz');
      expect(health.status).toBe(200);
      for (const name of l.nodeNames) {
        const st = await waitFor(`${name} reconnected`, async () => {
          const s = await l.status(name);
          return s.controller.connected ? s : null;
        }, 30_000, 250);
        expect(st.value.peers).toHaveLength(NODES - 1);
      }
    }
  } finally {
    writeFileSync(cfgFile, original);
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
