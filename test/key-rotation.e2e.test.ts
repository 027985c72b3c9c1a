/**
 * Issue 13, tests 1 and 3, on the lab (real wireguard-go, the default build): a 100 packets/s ping
 * stream across a WireGuard key rotation, on demand and on schedule, and across identity renewals,
 * loses nothing (asserted at most 1) and never waits a second. Each measurement is printed.
 * TRELLIS_WIREGUARD_GO=/usr/bin/wireguard-go runs the same against Debian's build.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab } from '../core/src/lab/lab';
import { chooseDeviceBinary } from '../core/src/wg/device-binary';
import type { NodeIdentity } from '../core/src/agent/identity';
import { ROUTES, type AuditEvent, type AgentStatus, type NodeView } from '../core/src/wire';
import { pingStream, type PingStreamResult } from './support/ping-stream';
import { waitFor } from './support/wait';

jest.setTimeout(420_000);

const NODES = ['n1', 'n2', 'n3'];
let lab: Lab;
let dir: string;
let configFile: string;

const writeConfig = (settings: Record<string, unknown>) => writeFileSync(configFile, JSON.stringify({ controller: { settings } }, null, 2));
const identityOf = (name: string) => JSON.parse(readFileSync(join(lab.node(name).stateDir, 'identity.json'), 'utf8')) as NodeIdentity;
const ipOf = (name: string) => lab.node(name).addresses!.ipv4;

async function admin<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await lab.adminFetch(path, { ...init, headers: { 'content-type': 'application/json', ...(init.headers ?? {}) } });
  const body = (await res.json()) as T;
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}
const audit = () => admin<AuditEvent[]>(`${ROUTES.adminAudit}?limit=1000`);

/** report prints one measurement line, the figures the issue asks for. */
function report(what: string, r: PingStreamResult, extra = ''): void {
  process.stdout.write(
    `[key-rotation] ${what}: sent ${r.sent}, lost ${r.lost}, longest gap ${r.longestGapMs} ms, slowest RTT ${r.maxRttMs.toFixed(1)} ms${extra ? `, ${extra}` : ''}\n`,
  );
}

/** Every other node holds `name`'s current key as its peer key. */
async function peersHold(name: string, wgKey: string): Promise<boolean> {
  const statuses = await Promise.all(NODES.filter((n) => n !== name).map((n) => lab.status(n)));
  return statuses.every((s) => s.peers.find((p) => p.name === name)?.wgKey === wgKey);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-rotation-e2e-'));
  configFile = join(dir, 'lab-config.json');
  // Scheduled rotation out of the way for the on-demand tests; identity renewals every ~13 s all along.
  writeConfig({ keyRotation: { default: '1h' }, identityLifetime: '20s' });
  lab = await Lab.up({ nodes: NODES.length, configFile });
});

afterAll(async () => {
  await lab?.down();
  rmSync(dir, { recursive: true, force: true });
});

test('the lab runs device binary the agent resolves (trellis-wg by default, or TRELLIS_WIREGUARD_GO)', async () => {
  const st: AgentStatus = await lab.status('n1');
  process.stdout.write(`[key-rotation] device: ${JSON.stringify(st.device ?? null)}\n`);
  expect(st.device?.binary).toBe(chooseDeviceBinary().path);
  expect(st.keys).toMatchObject({ rotationIntervalMs: 3_600_000, rotating: false });
});

describe.each([
  ['the node answering the ping', 'n1', 'n2', 'n2'],
  ['the node sending the ping', 'n1', 'n2', 'n1'],
])('on demand (`trellis keys rotate`), rotating %s', (_what, from, to, rotated) => {
  test('a 100 pps stream loses nothing and never waits a second', async () => {
    const before = identityOf(rotated);
    const stream = pingStream(lab, from, ipOf(to), { count: 600 });
    await new Promise((r) => setTimeout(r, 2000));
    const asked = Date.now();
    await admin(ROUTES.adminRotateKeys, { method: 'POST', body: JSON.stringify({ node: rotated }) });
    const { value: st, ms } = await waitFor(`${rotated} registers a new key`, async () => {
      const s = await lab.status(rotated);
      return s.node.wgKey !== before.wg.publicKey && s.keys?.lastRotation?.outcome === 'rotated' ? s : null;
    }, 10_000, 20);
    await waitFor(`every peer holds ${rotated}'s new key`, () => peersHold(rotated, st.node.wgKey), 5_000, 20);
    const switched = Date.now() - asked;
    const r = await stream;
    report(`on demand, ${rotated} rotated (${from} -> ${to})`, r, `request to registered ${ms} ms, to every peer switched ${switched} ms, registration ${st.keys?.lastRotation?.registrationMs} ms`);
    expect(r.sent).toBe(600);
    expect(r.lost).toBeLessThanOrEqual(1);
    expect(r.longestGapMs).toBeLessThan(1000);

    // The private key never left the node: only the public half is known to the controller.
    const after = identityOf(rotated);
    expect(after.wg.publicKey).toBe(st.node.wgKey);
    expect(after.pendingWg).toBeUndefined();
    expect(after.wg.privateKey).not.toBe(before.wg.privateKey);
    const view = (await admin<NodeView[]>(ROUTES.adminNodes)).find((n) => n.name === rotated)!;
    expect(view.wgKey).toBe(after.wg.publicKey);
    expect(JSON.stringify(view)).not.toContain(after.wg.privateKey);
    expect(view.rotateRequestedAt).toBeNull();
    expect(Date.now() - view.wgKeyCreatedAt).toBeLessThan(60_000);
    const rotatedEvents = (await audit()).filter((e) => e.action === 'node.key.rotated' && (e.details as { name?: string }).name === rotated);
    expect(rotatedEvents.at(-1)?.details).toMatchObject({ reason: 'requested', key: after.wg.publicKey, previousKey: before.wg.publicKey });
  });
});

test('on demand for every node at once: peers take turns (rotation leases), the stream loses nothing', async () => {
  const before = Object.fromEntries(NODES.map((n) => [n, identityOf(n).wg.publicKey]));
  const stream = pingStream(lab, 'n1', ipOf('n2'), { count: 800 });
  await new Promise((r) => setTimeout(r, 1500));
  const asked = Date.now();
  await admin(ROUTES.adminRotateKeys, { method: 'POST' });
  const { ms } = await waitFor('every node rotated', async () => {
    const views = await admin<NodeView[]>(ROUTES.adminNodes);
    return views.every((v) => v.rotateRequestedAt === null && v.wgKey !== before[v.name]);
  }, 20_000, 50);
  const r = await stream;
  const rotations = (await audit()).filter((e) => e.action === 'node.key.rotated' && e.at >= asked).map((e) => e.at);
  report('on demand, every node at once (n1 -> n2)', r, `all ${NODES.length} rotated within ${ms} ms, registrations ${rotations.map((t) => t - asked).join(', ')} ms after the request`);
  expect(rotations).toHaveLength(NODES.length);
  // One at a time: each registration at least the settle time after the one before.
  for (let i = 1; i < rotations.length; i++) expect(rotations[i] - rotations[i - 1]).toBeGreaterThanOrEqual(900);
  expect(r.lost).toBeLessThanOrEqual(1);
  expect(r.longestGapMs).toBeLessThan(1000);
});

test('identity renewal (20 s lifetime, renewed at ~13 s) switches identity keys without losing a packet', async () => {
  const before = Object.fromEntries(NODES.map((n) => [n, identityOf(n).identity.publicKey]));
  const renewedBefore = (await audit()).filter((e) => e.action === 'node.identity.renewed').length;
  // 16 s covers one renewal of every node.
  const r = await pingStream(lab, 'n1', ipOf('n3'), { count: 1600 });
  const renewals = (await audit()).filter((e) => e.action === 'node.identity.renewed').slice(renewedBefore);
  report('identity renewals during the stream', r, `${renewals.length} renewals (${renewals.map((e) => (e.details as { name: string }).name).join(', ')})`);
  expect(r.lost).toBeLessThanOrEqual(1);
  expect(r.longestGapMs).toBeLessThan(1000);
  for (const n of NODES) {
    expect(identityOf(n).identity.publicKey).not.toBe(before[n]);
    const st = await lab.status(n);
    expect(st.controller.connected).toBe(true);
    expect(st.keys?.identityExpiresAt).toBeGreaterThan(Date.now());
  }
  expect(new Set(renewals.map((e) => (e.details as { name: string }).name))).toEqual(new Set(NODES));
});

test('scheduled rotation (shortened to 10 s) of both ends loses nothing', async () => {
  writeConfig({ keyRotation: { default: '10s' }, identityLifetime: '1h' });
  await lab.stopController();
  await lab.startController();
  for (const n of NODES) await waitFor(`${n} reconnects`, async () => (await lab.status(n)).controller.connected, 40_000, 200);
  // Every key is older than 10 s now: the first round rotates at once. Let it pass, then measure.
  await waitFor('every node rotated on schedule once', async () => {
    const sts = await Promise.all(NODES.map((n) => lab.status(n)));
    return sts.every((s) => s.keys?.rotationIntervalMs === 10_000 && s.keys.lastRotation?.reason === 'scheduled' && s.keys.lastRotation.outcome === 'rotated');
  }, 30_000, 200);
  const auditBefore = (await audit()).length;
  const keysBefore = Object.fromEntries(NODES.map((n) => [n, identityOf(n).wg.publicKey]));
  // 28 s at 100 pps: two scheduled rotations of each end (each rotates 10 s after its last one).
  const r = await pingStream(lab, 'n1', ipOf('n3'), { count: 2800 });
  const rotations = (await audit()).slice(auditBefore).filter((e) => e.action === 'node.key.rotated');
  const byNode = (n: string) => rotations.filter((e) => (e.details as { name: string }).name === n);
  report('scheduled rotations during the stream', r, `rotations: ${NODES.map((n) => `${n} ${byNode(n).length}`).join(', ')}`);
  expect(byNode('n1').length).toBeGreaterThanOrEqual(2);
  expect(byNode('n3').length).toBeGreaterThanOrEqual(2);
  expect(rotations.every((e) => (e.details as { reason: string }).reason === 'scheduled')).toBe(true);
  expect(r.lost).toBeLessThanOrEqual(1);
  expect(r.longestGapMs).toBeLessThan(1000);
  for (const n of NODES) {
    expect(identityOf(n).wg.publicKey).not.toBe(keysBefore[n]);
    expect(await peersHold(n, identityOf(n).wg.publicKey)).toBe(true);
  }
});
