'use strict';
/**
 * The controller's map pipeline over a generated mesh held in memory, for the benchmarks that time
 * it (map-change, topology): the part of the Store it reads, and a MapStreamer as the controller
 * runs one, with every node online and the batch window at 0 ms (the window is a wait for more
 * changes, not work).
 */
const { join } = require('node:path');

const ROOT = join(__dirname, '..');
const core = (p) => require(join(ROOT, 'core', 'dist', p));

/** MemoryStore: the part of the Store interface the map pipeline reads, in memory. */
class MemoryStore {
  constructor(nodes, userGroups) {
    this.overlay = { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:115c:a1e0::/48' };
    this.nodes = new Map(nodes.map((n) => [n.id, n]));
    this.groups = userGroups;
  }
  async getNode(id) {
    return this.nodes.get(id) ?? null;
  }
  async listNodes() {
    return [...this.nodes.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
  async userGroups() {
    return this.groups;
  }
}

/**
 * memoryStreamer is a MapStreamer over a MemoryStore of `nodes`, building with the plugin `host`
 * (and `topology`, else the full mesh), every node connected at `now`, the clock stopped there.
 */
function memoryStreamer({ host, nodes, userGroups, now, topology }) {
  const { MapStreamer } = core('controller/map-streamer.js');
  const { MapBuilder } = core('controller/map-builder.js');
  const { Presence } = core('controller/presence.js');
  const pino = require(require.resolve('pino', { paths: [join(ROOT, 'core')] }));
  const store = new MemoryStore(nodes, userGroups);
  const presence = new Presence();
  for (const n of nodes) presence.connect(n.id, now);
  const builder = topology === undefined ? new MapBuilder(host) : new MapBuilder(host, () => topology);
  const streamer = new MapStreamer({ store, builder, presence, log: pino({ level: 'silent' }), clock: () => now, batchWindowMs: 0 });
  return { streamer, store };
}

module.exports = { MemoryStore, memoryStreamer };
