/**
 * The threat-detection alerts and panels on a real throwaway ClickHouse 18.16 (scripts/clickhouse.sh):
 * a source with a burst of failed authentications and a node that suddenly has live tunnels with
 * far more peers than its usual set fire; a source with a few failures, a node that gained one
 * peer and a node too new to have a usual set do not.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandMacros, generate } from '@trellis/plugin-dashboards-grafana';
import { ExportResultCode, type ClickHousePipeline, type TelemetryBatch } from '@trellis/plugin-telemetry-clickhouse';
import { ClickHouseServer, openLoadedPipeline, queryJson } from './support/clickhouse-server';

jest.setTimeout(120_000);

const DB = 'e2e_threats';
const g = generate({ database: DB });
const now = Math.floor(Date.now() / 60_000) * 60_000;
let dir: string;
let server: ClickHouseServer | undefined;
let pipeline: ClickHousePipeline;

const run = async (sql: string) => (await queryJson(pipeline, sql)).rows;

function dataSet(): TelemetryBatch[] {
  const tunnels: NonNullable<TelemetryBatch['tunnels']> = [];
  const tunnel = (at: number, node: string, peer: string) => tunnels.push({ at, node, peer, rxBytes: 1000, txBytes: 1000, handshakeAgeS: 10 });
  // Three hours of n1 with three peers and n2 with one, a sample every 5 minutes.
  for (let m = 180; m >= 15; m -= 5) {
    const at = now - m * 60_000;
    for (const p of ['p1', 'p2', 'p3']) tunnel(at, 'n1', p);
    tunnel(at, 'n2', 'p1');
    // A stale handshake is not a live tunnel, however many there are.
    for (let i = 0; i < 20; i++) tunnels.push({ at, node: 'n2', peer: `old${i}`, rxBytes: 0, txBytes: 0, handshakeAgeS: 900 });
  }
  // The last ten minutes: n1 reaches eleven more peers, n2 one more, n3 appears with five.
  for (const m of [9, 4, 1]) {
    const at = now - m * 60_000;
    for (const p of ['p1', 'p2', 'p3', ...Array.from({ length: 11 }, (_, i) => `x${i + 1}`)]) tunnel(at, 'n1', p);
    for (const p of ['p1', 'p2']) tunnel(at, 'n2', p);
    for (const p of ['p1', 'p2', 'p3', 'p4', 'p5']) tunnel(at, 'n3', p);
  }
  const failure = (at: number, remote: string) => ({ at, action: 'auth.failure', actor: `remote:${remote}`, details: { code: 'TRELLIS_ERR_AUTH_BAD_SIGNATURE', remote, route: 'POST /v1/node/facts' } });
  const audit: NonNullable<TelemetryBatch['audit']> = [
    ...Array.from({ length: 10 }, (_, i) => failure(now - 3 * 60_000 + i * 1000, '192.0.2.99')),
    { at: now - 2 * 60_000, action: 'auth.failure.summary', actor: 'remote:192.0.2.99', details: { remote: '192.0.2.99', count: 25, auditedOneByOne: 10, rateLimited: 300 } },
    ...Array.from({ length: 3 }, (_, i) => failure(now - 2 * 60_000 + i * 1000, '192.0.2.5')),
    { at: now - 60_000, action: 'conn.tunnel.up', actor: 'node:a', target: 'b', details: { name: 'n1', peer: 'x1' } },
    // The last signed checkpoint 50 minutes ago; an admin action 40 minutes ago still waits for the next.
    { at: now - 50 * 60_000, action: 'audit.checkpoint', actor: 'controller', details: { upTo: 7, head: 'h', signature: 's' } },
    { at: now - 40 * 60_000, action: 'admin.key.created', actor: 'admin', target: 'k1', details: { reusable: false } },
    { at: now - 60_000, action: 'conn.tunnel.down', actor: 'node:a', target: 'c', details: { name: 'n1', peer: 'p3' } },
  ];
  return [
    { batchId: 'threat-tunnels', tunnels },
    { batchId: 'threat-audit', audit },
  ];
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-threats-'));
  server = await ClickHouseServer.start(dir);
  pipeline = await openLoadedPipeline(server.url, DB, join(dir, 'spool'), dataSet());
});

afterAll(async () => {
  await pipeline?.close().catch(() => undefined);
  try {
    server?.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const condition = (uid: string) => g.conditions.find((c) => c.uid === uid)!;
const alertRange = (windowSeconds: number) => ({ from: now + 60_000 - windowSeconds * 1000, to: now + 60_000, intervalMs: 60_000 });

test('a burst of failed authentications from one source fires; a few from another do not', async () => {
  const c = condition('trellis-auth-failure-burst');
  const rows = await run(expandMacros(c.sql, alertRange(c.windowSeconds)));
  const byRemote = Object.fromEntries(rows.map((r) => [r.remote, Number(r.value)]));
  expect(byRemote).toEqual({ '192.0.2.99': 25, '192.0.2.5': 3 });
  expect(rows.filter((r) => Number(r.value) > c.threshold).map((r) => r.remote)).toEqual(['192.0.2.99']);
});

test('a node with live tunnels to far more peers than usual fires; one more peer or a new node does not', async () => {
  const c = condition('trellis-peer-spike');
  const rows = await run(expandMacros(c.sql, alertRange(c.windowSeconds)));
  const byNode = Object.fromEntries(rows.map((r) => [r.node, Number(r.value)]));
  expect(byNode).toEqual({ n1: 11, n2: 1 });
  expect(rows.filter((r) => Number(r.value) > c.threshold).map((r) => r.node)).toEqual(['n1']);
});

test('audit entries waiting long for a signed checkpoint fire; once a checkpoint covers them, nothing does', async () => {
  const c = condition('trellis-audit-unsigned');
  const rows = await run(expandMacros(c.sql, alertRange(c.windowSeconds)));
  expect(rows.map((r) => [r.log, Number(r.value)])).toEqual([['audit', 41 * 60]]);
  expect(Number(rows[0]!.value)).toBeGreaterThan(c.threshold);
  // A checkpoint 30 s ago signs everything before it: nothing waits.
  expect((await pipeline.exporter.export({ batchId: 'threat-checkpoint', audit: [{ at: now - 30_000, action: 'audit.checkpoint', actor: 'controller', details: { upTo: 99 } }] })).code).toBe(ExportResultCode.SUCCESS);
  expect(await pipeline.exporter.drain(30_000)).toBe(true);
  const after = await run(expandMacros(c.sql, alertRange(c.windowSeconds)));
  expect(after.map((r) => [r.log, Number(r.value)])).toEqual([['audit', 0]]);
});

test('the audit dashboard shows the sources, the peers contacted and the connection events', async () => {
  const panel = (title: string) => g.queries.find((q) => q.dashboardUid === 'trellis-audit' && q.panel === title)!;
  const ctx = { from: now - 4 * 3_600_000, to: now + 60_000, intervalMs: 60_000, variables: { action: ['auth.failure'] } };
  const top = await run(expandMacros(panel('Top failing sources').sql, ctx));
  expect(top.map((r) => [r.remote, Number(r.failures), Number(r.rate_limited)])).toEqual([
    ['192.0.2.99', 25, 300],
    ['192.0.2.5', 3, 0],
  ]);
  const peers = await run(expandMacros(panel('Peers contacted per node: now vs usual').sql, ctx));
  expect(peers.map((r) => [r.node, Number(r.peers_now), Number(r.peers_usual), Number(r.extra)])).toEqual([
    ['n1', 14, 3, 11],
    ['n2', 2, 1, 1],
  ]);
  const series = await run(expandMacros(panel('Failed authentications per source').sql, ctx));
  expect(series.reduce((n, r) => n + (r.series === '192.0.2.99' ? Number(r.failures) : 0), 0)).toBe(25);
  const conn = await run(expandMacros(panel('Connection events per kind').sql, ctx));
  expect(conn.map((r) => r.series).sort()).toEqual(['tunnel.down', 'tunnel.up']);
});
