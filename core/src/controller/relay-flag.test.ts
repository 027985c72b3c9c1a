import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ControllerClient, ControllerRequestError } from '../agent/controller-client';
import { ed25519PrivateKey, generateIdentityKeyPair, generateWgKeyPair } from '../auth/keys';
import { TrellisError } from '../errors';
import type { RelayOffer } from '../netmap/types';
import { ROUTES, type CreateKeyResponse, type NodeView } from '../wire';
import { startController, type RunningController } from './controller';

const log = pino({ level: 'silent' });
let dir: string;
let c: RunningController;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-relay-'));
  c = await startController({ listen: '127.0.0.1:0', dataDir: dir, log, batchWindowMs: 10 });
});
afterEach(async () => {
  await c.close();
  rmSync(dir, { recursive: true, force: true });
});

async function authKey(): Promise<string> {
  const res = await fetch(`${c.url}${ROUTES.adminKeys}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${c.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reusable: true }),
  });
  return ((await res.json()) as CreateKeyResponse).key;
}

/** enrolled makes a node the way an agent does: fresh keys, signed enrolment, then a signed client. */
async function enrolled(name: string, key: string, relay: RelayOffer | null | undefined) {
  const wg = generateWgKeyPair();
  const identity = generateIdentityKeyPair();
  const client = new ControllerClient({ url: c.url });
  const res = await client.enroll(
    { authKey: key, name, hostname: name, wgKey: wg.publicKey, identityKey: identity.publicKey, endpoints: ['198.18.0.11:51820'], ...(relay !== undefined ? { relay } : {}) },
    ed25519PrivateKey(identity),
  );
  client.setIdentity(res.nodeId, ed25519PrivateKey(identity));
  return { id: res.nodeId, client, map: res.map };
}

async function nodes(): Promise<NodeView[]> {
  const res = await fetch(`${c.url}${ROUTES.adminNodes}`, { headers: { authorization: `Bearer ${c.adminToken}` } });
  const body = (await res.json()) as NodeView[] | { nodes: NodeView[] };
  return Array.isArray(body) ? body : body.nodes;
}

const peerRelay = (viewer: string, peer: string) => c.streamer.currentMap(viewer)?.peers.find((p) => p.id === peer)?.relay;

describe('the relay flag', () => {
  it('is stored at enrolment and listed in peers\' maps, the node\'s own entry and the admin API', async () => {
    const key = await authKey();
    const r = await enrolled('r1', key, { port: 51821 });
    const a = await enrolled('a1', key, null);
    await c.streamer.settled();
    expect(peerRelay(a.id, r.id)).toEqual({ port: 51821 });
    expect(peerRelay(r.id, a.id)).toBeNull();
    expect(c.streamer.currentMap(r.id)?.self.relay).toEqual({ port: 51821 });
    const view = await nodes();
    expect(view.find((n) => n.name === 'r1')?.relay).toEqual({ port: 51821 });
    expect(view.find((n) => n.name === 'a1')?.relay).toBeNull();
  });

  it('an agent from before relays (no relay field) enrols as no relay', async () => {
    const key = await authKey();
    const old = await enrolled('old', key, undefined);
    expect((await nodes()).find((n) => n.id === old.id)?.relay).toBeNull();
  });

  it('is set, moved and withdrawn by the endpoint report (`trellis up` with or without --relay), each change audited once', async () => {
    const key = await authKey();
    const n = await enrolled('n1', key, null);
    const watcher = await enrolled('w1', key, null);
    await n.client.postEndpoints(['198.18.0.11:51820'], { port: 51821 });
    await c.streamer.settled();
    expect(peerRelay(watcher.id, n.id)).toEqual({ port: 51821 });
    // Flagged again with the same port: idempotent, no new audit entry, no map change.
    const version = c.streamer.currentMap(watcher.id)!.version;
    await n.client.postEndpoints(['198.18.0.11:51820'], { port: 51821 });
    await c.streamer.settled();
    expect(c.streamer.currentMap(watcher.id)!.version).toBe(version);
    await n.client.postEndpoints(['198.18.0.11:51820'], { port: 4000 });
    await c.streamer.settled();
    expect(peerRelay(watcher.id, n.id)).toEqual({ port: 4000 });
    await n.client.postEndpoints(['198.18.0.11:51820'], null);
    await c.streamer.settled();
    expect(peerRelay(watcher.id, n.id)).toBeNull();
    const audit = await c.store.queryAudit({ types: ['node.relay'], limit: 10 });
    expect(audit.map((e) => (e.details as { relayPort: number | null }).relayPort).sort()).toEqual([4000, 51821, null].sort());
  });

  it('a malformed relay offer is refused with a 400 naming it, and nothing is stored', async () => {
    const key = await authKey();
    const n = await enrolled('n1', key, { port: 51821 });
    for (const bad of [{ port: 0 }, { port: 70000 }, { port: '51821' }, { port: 1.5 }, { port: 51821, extra: true }, {}, 'yes', true]) {
      const err = await n.client.postEndpoints(['198.18.0.11:51820'], bad as unknown as RelayOffer).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TrellisError);
      expect((err as ControllerRequestError).status).toBe(400);
      expect((err as TrellisError).message).toMatch(/relay/);
    }
    expect((await nodes()).find((x) => x.id === n.id)?.relay).toEqual({ port: 51821 });
    const wg = generateWgKeyPair();
    const identity = generateIdentityKeyPair();
    const refused = await new ControllerClient({ url: c.url })
      .enroll({ authKey: key, name: 'bad', hostname: 'bad', wgKey: wg.publicKey, identityKey: identity.publicKey, endpoints: [], relay: { port: -1 } }, ed25519PrivateKey(identity))
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect((refused as ControllerRequestError).status).toBe(400);
    expect((await nodes()).map((x) => x.name)).not.toContain('bad');
  });
});
