/**
 * NodeKeys of two controllers sharing one store: the identity-lapse sweep of the second skips
 * quietly what the first already did, and changes made elsewhere or renewals arm the lapse timer
 * from the changed node alone, without listing the store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ed25519PrivateKey, generateIdentityKeyPair } from '../auth/keys';
import { identityRenewalProof } from '../auth/signing';
import { SqliteStore } from '../store/sqlite/sqlite-store';
import type { NodeRecord, Store } from '../store/store';
import { addKey, enrollInput } from '../store/testing/store-fixtures';
import { DEFAULT_KEY_POLICY, type KeyPolicy } from './key-policy';
import { NodeKeys } from './node-keys';

interface Controller {
  keys: NodeKeys;
  /** Log entries at warn and above. */
  warnings: Array<{ level: number; msg: string }>;
  changed: string[];
  events: Array<{ kind: string; node: string }>;
}

let dir: string;
let store: SqliteStore;
const started: NodeKeys[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-keys-shared-'));
  store = new SqliteStore({ dataDir: dir });
  await addKey(store, 'k1', 's1', { expiresAt: Date.now() + 3_600_000 });
});
afterEach(async () => {
  for (const k of started.splice(0)) k.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function controller(on: Store, clock: () => number, identityLifetimeMs: number): Controller {
  const warnings: Controller['warnings'] = [];
  const log = pino(
    { level: 'debug' },
    {
      write(line: string) {
        const entry = JSON.parse(line) as { level: number; msg: string };
        if (entry.level >= 40) warnings.push({ level: entry.level, msg: entry.msg });
      },
    },
  );
  const changed: string[] = [];
  const events: Controller['events'] = [];
  const policy: KeyPolicy = { ...DEFAULT_KEY_POLICY, identityLifetimeMs };
  const keys = new NodeKeys({
    store: on,
    policy,
    clock,
    log,
    audit: async () => undefined,
    nodeChanged: (id) => changed.push(id),
    closeStreams: () => undefined,
    isOnline: () => false,
    peersOf: () => [],
    reevaluatePosture: async () => undefined,
    nodeEvent: async (kind, node) => {
      events.push({ kind, node: node.id });
    },
  });
  started.push(keys);
  return { keys, warnings, changed, events };
}

async function enroll(n: number, now: number, identityLifetimeMs: number, identityKey?: string): Promise<NodeRecord> {
  const res = await store.enrollNode(
    enrollInput(n, { now, identityKey: identityKey ?? enrollInput(n).identityKey, lifetimes: () => ({ nodeTtlMs: null, identityLifetimeMs }) }),
  );
  return res.node;
}

/** A view of the store whose listNodes answers what it held at `stale`: a controller that listed just before the other one wrote. */
function listedAt(real: Store, stale: NodeRecord[]): Store {
  return new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'listNodes') return async () => stale;
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

const until = async (what: string, fn: () => boolean | Promise<boolean>, ms: number) => {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('identity lapse with two controllers on one store', () => {
  it('the second controller skips quietly the lapses the first already expired: no error, one audit row each', async () => {
    const t0 = 1_700_000_000_000;
    const lifetime = 60_000;
    const a = await enroll(1, t0, lifetime);
    const b = await enroll(2, t0, lifetime);
    const now = t0 + lifetime + 1_000;
    // The second controller listed the nodes while both were still live...
    const before = await store.listNodes();
    const first = controller(store, () => now, lifetime);
    const second = controller(listedAt(store, before), () => now, lifetime);
    // ...and the first expired them before the second came to write.
    await first.keys.start();
    expect((await store.getNode(a.id))!.expiresAt).toBe(t0 + lifetime);
    await second.keys.start();

    expect(first.events.map((e) => e.kind)).toEqual(['expired', 'expired']);
    expect(second.warnings).toEqual([]);
    expect(second.events).toEqual([]);
    // Its maps still catch up with the nodes that left.
    expect(second.changed.sort()).toEqual([a.id, b.id].sort());
    const audit = await store.listAudit(100);
    expect(audit.filter((e) => e.action === 'node.identity.expired').map((e) => e.target).sort()).toEqual([a.id, b.id].sort());
    // The first controller's own sweep logged its lapses as warnings, once per node.
    expect(first.warnings.map((w) => w.msg)).toEqual([
      'identity credential lapsed without renewal; the node left the mesh and must enroll again',
      'identity credential lapsed without renewal; the node left the mesh and must enroll again',
    ]);
  });

  it('other failures to expire a lapsed node are still logged as errors', async () => {
    const t0 = 1_700_000_000_000;
    const a = await enroll(1, t0, 60_000);
    const broken = new Proxy(store as Store, {
      get(target, prop, receiver) {
        if (prop === 'setNodeExpiry') return async () => Promise.reject(new Error('disk full'));
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
      },
    });
    const c = controller(broken, () => t0 + 61_000, 60_000);
    await c.keys.start();
    expect(c.warnings).toEqual([{ level: 50, msg: 'could not expire a node whose identity lapsed' }]);
    expect((await store.getNode(a.id))!.expiresAt).toBeNull();
  });

  it('a node enrolled through the other controller is expired here on time, read alone, without listing the store', async () => {
    const lifetime = 600;
    const here = controller(store, Date.now, lifetime);
    await here.keys.start();
    const listNodes = jest.spyOn(store, 'listNodes');
    const getNode = jest.spyOn(store, 'getNode');
    // The other controller enrolls the node and its change reaches this one.
    const n = await enroll(1, Date.now(), lifetime);
    here.keys.storeChanged(n.id);
    await until('the change was read', () => getNode.mock.calls.length > 0, 2_000);
    expect(getNode.mock.calls.map((c) => c[0])).toEqual([n.id]);
    expect(listNodes).not.toHaveBeenCalled();
    // The lapse timer this change armed sweeps once the identity lapsed.
    await until('the lapse was expired', async () => (await store.getNode(n.id))!.expiresAt !== null, 5_000);
    expect(here.events).toEqual([{ kind: 'expired', node: n.id }]);
    expect(listNodes).toHaveBeenCalledTimes(1);
  });
});

describe('the change feed resyncs', () => {
  it('a node enrolled elsewhere while the feed was lost is swept when it comes back', async () => {
    const t0 = 1_700_000_000_000;
    let now = t0;
    const here = controller(store, () => now, 60_000);
    await here.keys.start();
    // No change heard for it: the feed was down.
    const n = await enroll(1, t0, 60_000);
    now = t0 + 61_000;
    await here.keys.storeResynced();
    expect((await store.getNode(n.id))!.expiresAt).toBe(t0 + 60_000);
    expect(here.events).toEqual([{ kind: 'expired', node: n.id }]);
  });
});

describe('identity renewal and the lapse timer', () => {
  it('a renewal lists no node; the timer armed for the old expiry finds nothing lapsed, and the node lapses at its new expiry', async () => {
    const lifetime = 1_500;
    const identity = generateIdentityKeyPair();
    const n = await enroll(1, Date.now(), lifetime, identity.publicKey);
    const c = controller(store, Date.now, lifetime);
    await c.keys.start();
    const listNodes = jest.spyOn(store, 'listNodes');
    await new Promise((r) => setTimeout(r, 500));
    const next = generateIdentityKeyPair();
    const proof = identityRenewalProof(ed25519PrivateKey(next), n.id, identity.publicKey, next.publicKey);
    const renewed = await c.keys.renewIdentity((await store.getNode(n.id))!, next.publicKey, proof);
    expect(listNodes).not.toHaveBeenCalled();
    expect(renewed.identityExpiresAt).toBeGreaterThan(n.identityExpiresAt!);
    // The old expiry passes: one sweep, and the renewed node stays.
    await until('the sweep at the old expiry', () => listNodes.mock.calls.length === 1, 3_000);
    await new Promise((r) => setTimeout(r, 50));
    expect((await store.getNode(n.id))!.expiresAt).toBeNull();
    expect(c.events.map((e) => e.kind)).toEqual(['identity-renewed']);
    // Nobody renews again: it lapses at the new expiry.
    await until('the lapse at the new expiry', async () => (await store.getNode(n.id))!.expiresAt !== null, 5_000);
    expect((await store.getNode(n.id))!.expiresAt).toBe(renewed.identityExpiresAt);
    expect(c.events.map((e) => e.kind)).toEqual(['identity-renewed', 'expired']);
  }, 15_000);
});
