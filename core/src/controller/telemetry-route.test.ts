import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ControllerClient, ControllerRequestError } from '../agent/controller-client';
import type { TelemetryBatch } from '../api/telemetry';
import { ed25519PrivateKey, generateIdentityKeyPair, generateWgKeyPair } from '../auth/keys';
import { noHooks, type HookRunner } from '../plugins/hook-runner';
import { startController, type RunningController } from './controller';
import type { CreateKeyResponse, TelemetryRequest } from '../wire';

const log = pino({ level: 'silent' });
let dir: string;
let c: RunningController;
const exported: TelemetryBatch[] = [];
const hooks: HookRunner = {
  ...noHooks,
  has: (h) => h === 'onTelemetry',
  runParallel: (async (hook: string, batch: TelemetryBatch) => {
    if (hook === 'onTelemetry') exported.push(batch);
    return [];
  }) as HookRunner['runParallel'],
};

async function enrolledClient(name: string): Promise<ControllerClient> {
  const res = await fetch(`${c.url}/v1/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${c.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reusable: true }),
  });
  const key = (await res.json()) as CreateKeyResponse;
  const client = new ControllerClient({ url: c.url });
  const id = generateIdentityKeyPair();
  const enrolled = await client.enroll({ authKey: key.key, name, hostname: name, wgKey: generateWgKeyPair().publicKey, identityKey: id.publicKey, endpoints: [] }, ed25519PrivateKey(id));
  client.setIdentity(enrolled.nodeId, ed25519PrivateKey(id));
  return client;
}

const batch = (batchId: string, seqs: number[]): TelemetryRequest => ({
  batchId,
  sentAt: Date.now(),
  probes: seqs.map((seq) => ({ ts: Date.now(), src: 'someone-else', dst: 'b', path: 'direct', seq, rttUs: seq === 2 ? null : 300, lost: seq === 2, jitterUs: 10 })),
  tunnels: [{ ts: Date.now(), src: 'spoofed', dst: 'b', rxBytes: 1, txBytes: 2, handshakeAgeS: 3, up: true }],
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-telroute-'));
  c = await startController({ listen: '127.0.0.1:0', dataDir: dir, log, hooks, batchWindowMs: 10 });
});
afterAll(async () => {
  await c?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('POST /v1/node/telemetry', () => {
  it('stamps the batch with the authenticated node, exports it once, and acknowledges a retry as a duplicate', async () => {
    const a = await enrolledClient('tel-a');
    const first = await a.postTelemetry(batch('batch-1', [1, 2, 3]));
    expect(first).toEqual({ duplicate: false, accepted: { probes: 3, tunnels: 1, plugins: {} } });
    const again = await a.postTelemetry(batch('batch-1', [1, 2, 3]));
    expect(again.duplicate).toBe(true);
    expect(exported).toHaveLength(1);
    const b = exported[0]!;
    expect(b.node).toBe('tel-a');
    expect(b.nodeId).toMatch(/.+/);
    expect(b.probes.every((p) => p.src === 'tel-a')).toBe(true);
    expect(b.tunnels[0]!.src).toBe('tel-a');

    const live = await fetch(`${c.url}/v1/admin/telemetry/live`, { headers: { authorization: `Bearer ${c.adminToken}` } });
    const body = (await live.json()) as { paths: Array<{ src: string; dst: string; rttUs: number; loss: number; handshakeAgeS: number }> };
    expect(body.paths).toEqual([expect.objectContaining({ src: 'tel-a', dst: 'b', rttUs: 300, handshakeAgeS: 3 })]);
    expect(body.paths[0]!.loss).toBeCloseTo(1 / 3);
  });

  it('scopes batch ids by node: another node may reuse an id', async () => {
    const other = await enrolledClient('tel-b');
    expect((await other.postTelemetry(batch('batch-1', [9]))).duplicate).toBe(false);
  });

  it('refuses a malformed batch with a 400 naming the field', async () => {
    const a = await enrolledClient('tel-c');
    const bad = { ...batch('batch-x', [1]), probes: [{ ts: 1, src: 'x', dst: 'y', path: 'direct', seq: -1, rttUs: 1, lost: false, jitterUs: 0 }] };
    const err = await a.postTelemetry(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ControllerRequestError);
    expect((err as ControllerRequestError).status).toBe(400);
    expect((err as Error).message).toMatch(/seq/);
    const extra = await a.postTelemetry({ ...batch('batch-y', [1]), node: 'forged' } as TelemetryRequest).catch((e: unknown) => e);
    expect((extra as ControllerRequestError).status).toBe(400);
  });

  it('carries plugin rows under the plugin\'s name, stamped with the sender, and counts them by plugin', async () => {
    const a = await enrolledClient('tel-d');
    const rows = [{ ts: Date.now(), node: 'spoofed', class: '1:10', drops: 2 }, { ts: Date.now(), class: '1:20', drops: 0 }];
    const res = await a.postTelemetry({ ...batch('batch-p', [1]), plugins: { 'shaping-tc': rows } });
    expect(res.accepted).toEqual({ probes: 1, tunnels: 1, plugins: { 'shaping-tc': 2 } });
    const b = exported.find((x) => x.batchId === 'batch-p')!;
    expect(b.plugins).toEqual({ 'shaping-tc': rows.map((r) => ({ ...r, node: 'tel-d' })) });
    const notRows = await a.postTelemetry({ ...batch('batch-q', [1]), plugins: { 'shaping-tc': [1, 2] } } as unknown as TelemetryRequest).catch((e: unknown) => e);
    expect((notRows as ControllerRequestError).status).toBe(400);
    const badName = await a.postTelemetry({ ...batch('batch-r', [1]), plugins: { 'Not A Name': [] } }).catch((e: unknown) => e);
    expect((badName as ControllerRequestError).status).toBe(400);
  });

  it("carries a relay node's samples stamped with the sender, and refuses malformed ones", async () => {
    const a = await enrolledClient('tel-r');
    const row = { ts: Date.now(), src: 'spoofed', port: 3479, forwardedPackets: 1200, forwardedBytes: 1_500_000, droppedPackets: 7, droppedNotAllowed: 5, nodes: 2, sessions: 4 };
    const res = await a.postTelemetry({ ...batch('batch-rl', [1]), relays: [row] });
    expect(res.accepted).toEqual({ probes: 1, tunnels: 1, relays: 1, plugins: {} });
    expect(exported.find((x) => x.batchId === 'batch-rl')!.relays).toEqual([{ ...row, src: 'tel-r' }]);
    for (const bad of [{ ...row, port: 0 }, { ...row, droppedNotAllowed: -1 }, { ...row, extra: 1 }]) {
      const err = await a.postTelemetry({ ...batch(`batch-rl-${Math.random().toString(36).slice(2)}`, [1]), relays: [bad] }).catch((e: unknown) => e);
      expect((err as ControllerRequestError).status).toBe(400);
    }
  });

  it('refuses unsigned posts and the live view without the admin token', async () => {
    const res = await fetch(`${c.url}/v1/node/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch('z', [1])) });
    expect(res.status).toBe(401);
    const live = await fetch(`${c.url}/v1/admin/telemetry/live`);
    expect(live.status).toBe(401);
  });
});
