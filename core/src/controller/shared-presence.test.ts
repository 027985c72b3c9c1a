import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SqliteStore } from '../store/sqlite/sqlite-store';
import type { DeliveredChange } from '../store/store';
import { Presence } from './presence';
import { SharedPresence } from './shared-presence';

const log = pino({ level: 'silent' });

describe('Presence with other controllers', () => {
  it('a node is online while this or another controller holds a stream; transitions only on the combined state', () => {
    const p = new Presence();
    const local: Array<[string, boolean]> = [];
    p.watchLocal((id, online) => local.push([id, online]));
    expect(p.setRemote('n1', 'b', true, 10)).toBe(true);
    expect(p.state('n1', null)).toEqual({ online: true, lastSeen: 10 });
    // Failover: the node reaches this controller while b still holds it; no flap.
    expect(p.connect('n1', 20)).toBe(false);
    expect(local).toEqual([['n1', true]]);
    expect(p.dropController('b', 30)).toEqual([]);
    expect(p.isOnline('n1')).toBe(true);
    expect(p.disconnect('n1', 40)).toBe(true);
    expect(local).toEqual([['n1', true], ['n1', false]]);
    expect(p.state('n1', null)).toEqual({ online: false, lastSeen: 40 });
  });

  it('dropController and resetRemote report the nodes whose liveness changed', () => {
    const p = new Presence();
    p.setRemote('a', 'b', true, 1);
    p.setRemote('c', 'b', true, 1);
    p.setRemote('c', 'x', true, 1);
    expect(p.dropController('b', 5).sort()).toEqual(['a']);
    expect(p.isOnline('c')).toBe(true);
    expect(p.resetRemote([{ nodeId: 'd', controllerId: 'x' }], 6).sort()).toEqual(['c', 'd']);
    expect([p.isOnline('a'), p.isOnline('c'), p.isOnline('d')]).toEqual([false, false, true]);
  });
});

describe('SharedPresence', () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'trellis-shared-presence-'));
    store = new SqliteStore({ dataDir: dir });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const make = (presence: Presence, changed: string[], clock: () => number, heartbeatMs = 60_000) =>
    new SharedPresence({ store, presence, url: 'http://x', epoch: 'e', clock, log, heartbeatMs, lapseMs: 1_000, nodeChanged: (id) => changed.push(id) });

  it('records its controller and its streams, reads the others\' at start, and removes itself on close', async () => {
    await store.heartbeatController({ id: 'other', url: 'http://o', epoch: 'o', startedAt: 0 }, Date.now());
    await store.setNodeStream('n2', 'other', true, 1);
    const presence = new Presence();
    presence.connect('n1', 1);
    const changed: string[] = [];
    const shared = make(presence, changed, Date.now);
    await shared.start();
    expect(changed).toEqual(['n2']);
    expect(presence.isOnline('n2')).toBe(true);
    presence.connect('n3', 2);
    presence.disconnect('n1', 3);
    await shared.close();
    // Written in order, then removed with this controller.
    expect((await store.listControllers()).map((c) => c.id)).toEqual(['other']);
    expect(await store.listNodeStreams()).toEqual([{ nodeId: 'n2', controllerId: 'other', since: 1 }]);
  });

  it('writes each stream transition to the store while running', async () => {
    const presence = new Presence();
    const shared = make(presence, [], Date.now);
    await shared.start();
    presence.connect('n1', 1);
    await shared.resync('test');
    expect((await store.listNodeStreams()).map((s) => [s.nodeId, s.controllerId])).toEqual([['n1', shared.id]]);
    presence.disconnect('n1', 2);
    await shared.resync('test');
    expect(await store.listNodeStreams()).toEqual([]);
    await shared.close();
  });

  it('follows presence changes and a gone controller from the feed', async () => {
    const presence = new Presence();
    const changed: string[] = [];
    const shared = make(presence, changed, Date.now);
    await shared.start();
    const from = { origin: 'o', sentAt: 0 };
    shared.change({ kind: 'presence', nodeId: 'n1', controllerId: 'b', online: true, at: 5, ...from } as DeliveredChange);
    shared.change({ kind: 'presence', nodeId: 'n1', controllerId: 'c', online: true, at: 6, ...from } as DeliveredChange);
    expect(changed).toEqual(['n1']);
    shared.change({ kind: 'controller-gone', controllerId: 'b', ...from } as DeliveredChange);
    expect(presence.isOnline('n1')).toBe(true);
    shared.change({ kind: 'controller-gone', controllerId: 'c', ...from } as DeliveredChange);
    expect(presence.isOnline('n1')).toBe(false);
    expect(changed).toEqual(['n1', 'n1']);
    await shared.close();
  });

  it('removes a controller whose heartbeat lapsed, with its streams, and takes its nodes offline', async () => {
    let now = 100_000;
    await store.heartbeatController({ id: 'dead', url: 'http://d', epoch: 'd', startedAt: 0 }, now);
    await store.setNodeStream('n9', 'dead', true, now);
    const presence = new Presence();
    const changed: string[] = [];
    const shared = make(presence, changed, () => now, 20);
    await shared.start();
    expect(presence.isOnline('n9')).toBe(true);
    now += 5_000;
    await new Promise((r) => setTimeout(r, 120));
    expect((await store.listControllers()).map((c) => c.id)).toEqual([shared.id]);
    expect(presence.isOnline('n9')).toBe(false);
    expect(changed).toEqual(['n9', 'n9']);
    await shared.close();
  });
});
