import { promises as fs } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { ErrorCode } from '../errors';
import type { DeltaMapResponse, MapResponse, NetworkMapData, PeerNode } from '../netmap/types';
import { ControllerRequestError } from './controller-client';
import { MapCache } from './map-cache';
import { MapSession, type MapStreamSource } from './map-session';
import type { SseEvent } from './sse-parser';
import { fakeKey as key, fakePeer as peer } from './testing/peer-fixture';

const log = pino({ level: 'silent' });

function fullMap(version: number, peers: PeerNode[], epoch = 'e1'): NetworkMapData {
  return {
    version,
    epoch,
    self: { ...peer('a', 1), expiresAt: null },
    peers,
    packetFilter: null,
    routes: [],
    extensions: {},
    overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:7e11:5000::/48' },
  };
}

function delta(base: number, version: number, up: PeerNode[], removed: string[] = []): DeltaMapResponse {
  return { kind: 'delta', epoch: 'e1', baseVersion: base, version, peersUpserted: up, peersRemoved: removed };
}

const ev = (res: MapResponse): SseEvent => ({ event: 'map', data: JSON.stringify(res) });

/** A scripted controller: call i replays script[i] (events, then an error, or held open with hold); later calls hang until abort. */
function scripted(script: Array<{ events?: SseEvent[]; error?: Error; hold?: boolean }>) {
  const calls: Array<{ since: number | null; epoch: string | null }> = [];
  const source: MapStreamSource = {
    async *streamMap(since, epoch, signal) {
      calls.push({ since, epoch });
      const step = script[calls.length - 1];
      for (const e of step?.events ?? []) yield e;
      if (step?.error) throw step.error;
      if (!step || step.hold) {
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      }
    },
  };
  return { source, calls };
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('MapSession', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'trellis-ms-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('applies a full map then deltas from the stream, persisting each', async () => {
    const { source, calls } = scripted([
      { events: [ev({ kind: 'full', map: fullMap(1, [peer('b', 2)]) }), { event: 'ping', data: '' }, ev(delta(1, 2, [peer('c', 3)])), ev(delta(2, 3, [], ['b']))], hold: true },
    ]);
    const cache = new MapCache(dir);
    const seen: number[] = [];
    const s = new MapSession({ client: source, cache, log, onMap: (m) => seen.push(m.version) });
    s.start();
    await until(() => seen.length === 3);
    expect(seen).toEqual([1, 2, 3]);
    expect(s.current!.peers.map((p) => p.id)).toEqual(['c']);
    expect(s.connected).toBe(true);
    expect(calls[0]).toEqual({ since: null, epoch: null });
    const onDisk = await new MapCache(dir).load();
    expect(onDisk).toEqual(s.current);
    await s.stop();
    expect(s.connected).toBe(false);
  });

  it('resumes from the cached version and resyncs with a full map after a delta mismatch', async () => {
    const cache = new MapCache(dir);
    await cache.save(fullMap(5, [peer('b', 2)]));
    const { source, calls } = scripted([
      { events: [ev(delta(3, 4, [peer('x', 9)]))] },
      { events: [ev({ kind: 'full', map: fullMap(9, [peer('c', 3)]) })] },
    ]);
    const seen: number[] = [];
    const s = new MapSession({ client: source, cache, log, onMap: (m) => seen.push(m.version), backoff: { initialMs: 1, maxMs: 2 } });
    expect((await s.loadCache())!.version).toBe(5);
    s.start();
    await until(() => seen.length === 1);
    expect(calls.slice(0, 2)).toEqual([
      { since: 5, epoch: 'e1' },
      { since: null, epoch: null },
    ]);
    expect(seen).toEqual([9]);
    expect(s.current!.peers.map((p) => p.id)).toEqual(['c']);
    await s.stop();
  });

  it('reconnects with backoff after outages and keeps the last map meanwhile', async () => {
    const down = () => new ControllerRequestError(ErrorCode.CONTROLLER_UNREACHABLE, 'down', 503);
    const { source, calls } = scripted([
      { events: [ev({ kind: 'full', map: fullMap(1, [peer('b', 2)]) })], error: down() },
      { error: down() },
      { events: [ev(delta(1, 2, [peer('c', 3)]))] },
    ]);
    const s = new MapSession({ client: source, cache: new MapCache(dir), log, onMap: () => undefined, backoff: { initialMs: 2, maxMs: 10 } });
    s.start();
    await until(() => calls.length === 4);
    expect(s.current?.version).toBe(2);
    expect(calls.map((c) => c.since)).toEqual([null, 1, 1, 2]);
    await s.stop();
  });

  it('stops reconnecting and clears the cache when the node is revoked', async () => {
    const cache = new MapCache(dir);
    await cache.save(fullMap(5, [peer('b', 2)]));
    const { source, calls } = scripted([{ error: new ControllerRequestError(ErrorCode.NODE_REVOKED, 'node "a" was revoked', 403) }]);
    const revoked: string[] = [];
    const s = new MapSession({ client: source, cache, log, onMap: () => undefined, onRevoked: (e) => void revoked.push(e.code), backoff: { initialMs: 1 } });
    await s.loadCache();
    s.start();
    await until(() => revoked.length === 1);
    await new Promise((r) => setTimeout(r, 30));
    expect(calls).toHaveLength(1);
    expect(revoked).toEqual([ErrorCode.NODE_REVOKED]);
    expect(s.current).toBeNull();
    expect(s.revoked).toBe(true);
    await expect(fs.stat(cache.file)).rejects.toThrow();
    await s.stop();
  });
});

describe('MapCache', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'trellis-mc-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips a map with mode 0600 and no temporary files left', async () => {
    const cache = new MapCache(dir);
    const m = fullMap(7, [peer('b', 2), peer('c', 3)]);
    await cache.save(m);
    expect(await cache.load()).toEqual(m);
    expect((await fs.stat(cache.file)).mode & 0o777).toBe(0o600);
    expect(await fs.readdir(dir)).toEqual(['netmap.json']);
  });

  it('ignores a torn temporary file left by a crash mid-write', async () => {
    const cache = new MapCache(dir);
    const m = fullMap(7, [peer('b', 2)]);
    await cache.save(m);
    const torn = JSON.stringify(fullMap(8, [peer('c', 3)])).slice(0, 40);
    await fs.writeFile(path.join(dir, `netmap.json.tmp-999-deadbeef`), torn);
    expect(await cache.load()).toEqual(m);
    // With only the torn file there is no cache at all, rather than a corrupt one.
    await fs.rm(cache.file);
    expect(await cache.load()).toBeNull();
  });

  it('reports a corrupt or foreign cache file and ignores it', async () => {
    const cache = new MapCache(dir);
    const reasons: string[] = [];
    await fs.writeFile(cache.file, '{"version": 1, "peers"');
    expect(await cache.load((w) => reasons.push(w))).toBeNull();
    await fs.writeFile(cache.file, JSON.stringify({ version: 1 }));
    expect(await cache.load((w) => reasons.push(w))).toBeNull();
    expect(reasons).toEqual([expect.stringContaining('not valid JSON'), 'map.epoch is not a string']);
  });
});
