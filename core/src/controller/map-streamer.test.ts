import pino from 'pino';
import { applyMapResponse } from '../netmap/delta';
import type { MapResponse, NetworkMapData } from '../netmap/types';
import { PluginHost } from '../plugins/plugin-host';
import type { NodeRecord, Store } from '../store/store';
import { MapBuilder } from './map-builder';
import { MapStreamer } from './map-streamer';
import { Presence } from './presence';
import { FULL_MESH_TOPOLOGY } from './topology';

/**
 * MapStreamer sends a batch's responses in slices (sendSlice streams per event-loop turn), so the
 * first streams' writes are flushed before the last are serialised; every version moves before
 * the first write, so a stream that connects in between gets a consistent first response.
 */

const NOW = 1_700_000_000_000;
const log = pino({ level: 'silent' });

/** The fake boundary: node records in memory (the streamer reads nodes and groups only). */
class MemoryStore {
  readonly overlay = { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:7e11:5000::/48' };
  readonly nodes = new Map<string, NodeRecord>();
  async getNode(id: string) {
    return this.nodes.get(id) ?? null;
  }
  async listNodes() {
    return [...this.nodes.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }
  async userGroups() {
    return {};
  }
}

function record(i: number, over: Partial<NodeRecord> = {}): NodeRecord {
  return {
    id: `n${String(i).padStart(3, '0')}`,
    name: `node-${i}`,
    hostname: `h${i}`,
    user: null,
    tags: ['tag:a'],
    wgKey: `key-${i}`,
    identityKey: `id-${i}`,
    ipv4: `100.64.0.${i + 1}`,
    ipv6: `fd7a:7e11:5000::${(i + 1).toString(16)}`,
    endpoints: [`198.18.0.${i + 1}:41641`],
    authKeyId: null,
    lastSeen: null,
    createdAt: NOW,
    expiresAt: null,
    revoked: false,
    revokedAt: null,
    facts: null,
    posture: null,
    relay: null,
    ...over,
  };
}

interface Agent {
  id: string;
  map: NetworkMapData | null;
  received: MapResponse[];
}

async function setup(count: number, sendSlice: number, onSent?: (ms: number, streams: number) => void) {
  const store = new MemoryStore();
  for (let i = 0; i < count; i++) store.nodes.set(record(i).id, record(i));
  const streamer = new MapStreamer({
    store: store as unknown as Store,
    builder: new MapBuilder(new PluginHost('controller', log), () => FULL_MESH_TOPOLOGY),
    presence: new Presence(),
    log,
    clock: () => NOW,
    batchWindowMs: 1,
    sendSlice,
    onSent,
  });
  await streamer.refresh();
  return { store, streamer };
}

describe('MapStreamer sends a batch in slices', () => {
  it('flushes the first slice in its own event-loop turn, and every stream gets its delta', async () => {
    const sent: number[] = [];
    const { store, streamer } = await setup(7, 2, (_ms, streams) => sent.push(streams));
    const agents: Agent[] = [];
    let firstTurnCount: number | null = null;
    let sentSoFar = 0;
    for (const id of store.nodes.keys()) {
      const agent: Agent = { id, map: applyMapResponse(null, streamer.initialResponse(id, null, null)!), received: [] };
      agents.push(agent);
      streamer.attach(id, {
        send: (r) => {
          agent.map = applyMapResponse(agent.map, r);
          agent.received.push(r);
          sentSoFar++;
          // What had been written when the turn of the first write ended.
          if (sentSoFar === 1) setImmediate(() => (firstTurnCount = sentSoFar));
        },
        ping() {},
        close() {},
      });
    }
    store.nodes.set('n000', record(0, { endpoints: ['203.0.113.9:4000'] }));
    streamer.nodeChanged('n000', 'endpoints');
    await new Promise((r) => setTimeout(r, 5));
    await streamer.settled();

    expect(firstTurnCount).toBe(2);
    // The startup build sent nothing (no stream was open); the change went to all seven.
    expect(sent).toEqual([7]);
    for (const agent of agents) {
      expect(agent.received).toHaveLength(1);
      if (agent.id === 'n000') continue;
      expect(agent.map!.peers.find((p) => p.id === 'n000')!.endpoints).toEqual(['203.0.113.9:4000']);
    }
    await streamer.close();
  });

  it('a stream that reconnects while the batch is being sent gets the change, and the old stream its delta', async () => {
    const { store, streamer } = await setup(6, 1);
    const before = streamer.currentMap('n005')!;
    let reconnect: MapResponse | null = null;
    const last: MapResponse[] = [];
    for (const id of store.nodes.keys()) {
      streamer.attach(id, {
        send: (r) => {
          if (id === 'n005') last.push(r);
          // n005 (sent last) reconnects with the version it holds while the first slices go out.
          else if (reconnect === null) reconnect = streamer.initialResponse('n005', before.version, before.epoch);
        },
        ping() {},
        close() {},
      });
    }
    store.nodes.set('n000', record(0, { endpoints: ['203.0.113.9:4000'] }));
    streamer.nodeChanged('n000', 'endpoints');
    await new Promise((r) => setTimeout(r, 5));
    await streamer.settled();

    expect(reconnect).not.toBeNull();
    const rejoined = applyMapResponse(before, reconnect!);
    expect(rejoined.peers.find((p) => p.id === 'n000')!.endpoints).toEqual(['203.0.113.9:4000']);
    expect(rejoined.version).toBe(before.version + 1);
    // The old stream's delta applies to what it held.
    expect(last).toHaveLength(1);
    expect(applyMapResponse(before, last[0]!)).toEqual(rejoined);
    await streamer.close();
  });
});
