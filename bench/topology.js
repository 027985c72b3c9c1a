'use strict';
/**
 * topology-1000: WireGuard peers configured per node and map build time for a 1,000-node
 * hub-and-spoke mesh (2 hubs, tag:hub) beside the full mesh of the same nodes, in one run and one
 * process, rounds alternating between the two. Nodes are bench/policy.js's generated mesh.
 *
 * - build: a full build as the controller runs it (MapStreamer.refresh over an in-memory store:
 *   decide, the access index, entries, the topology's transit routes, the diff against the last
 *   build); p50 over rounds.
 * - peers: every node's map materialised and turned into its WireGuard config (toWgConfig, what the
 *   device is given); peers per node by role, and the sum over the mesh.
 * - maps: the time to materialise every node's full map and its config, and their JSON size (what
 *   1,000 connecting agents are sent).
 * Both without an access decider (every pair allowed: the full mesh configures N−1 peers) and with
 * the generated 100-rule policy through posture-opa (what access allows, then the topology).
 * A third build is hub-and-spoke whose hubs forward end to end (hubForwarding end-to-end, the hubs
 * relaying): spokes still configure their hubs at rest, and each spoke's map offers the remote
 * spokes on demand (map.onDemand), which is what its map bytes grow by.
 */
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');
const { memoryStreamer } = require('./memory-controller');
const { median, round } = require('./stats');
const { controllerHost, mesh, withGeneratedPolicy } = require('./policy');

const ROOT = join(__dirname, '..');
const core = (p) => require(join(ROOT, 'core', 'dist', p));
const NODES = 1000;
const HUBS = 2;
const ROUNDS = 9;
const NOW = 1_700_000_000_000;

/** measure builds both topologies ROUNDS times each (alternating) over one host and node set. */
async function measure(host, nodes, userGroups) {
  const { Topology, parseTopology, FULL_MESH_TOPOLOGY } = core('controller/topology.js');
  const { toWgConfig } = core('agent/to-wg-config.js');
  const { DEFAULT_PREFS } = core('agent/prefs.js');
  const { mapResponseJson } = core('controller/map-response-json.js');
  const topologies = {
    full: FULL_MESH_TOPOLOGY,
    'hub-and-spoke': new Topology(parseTopology({ mode: 'hub-and-spoke', hubs: ['tag:hub'] }, 'bench')),
    'end-to-end': new Topology(parseTopology({ mode: 'hub-and-spoke', hubs: ['tag:hub'], hubForwarding: 'end-to-end' }, 'bench')),
  };
  // End-to-end hubs forward with their relay: they offer one (`trellis up --relay`).
  const relayHubs = nodes.map((n) => (n.tags.includes('tag:hub') ? { ...n, relay: { port: 51821 } } : n));
  const streamers = {};
  for (const [mode, topology] of Object.entries(topologies)) {
    streamers[mode] = memoryStreamer({ host, nodes: mode === 'end-to-end' ? relayHubs : nodes, userGroups, now: NOW, topology }).streamer;
  }
  const build = Object.fromEntries(Object.keys(topologies).map((m) => [m, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of r % 2 === 0 ? Object.keys(topologies) : Object.keys(topologies).reverse()) {
      global.gc?.();
      const t0 = performance.now();
      await streamers[mode].refresh(`round ${r}`);
      build[mode].push(performance.now() - t0);
    }
  }
  const out = {};
  for (const mode of Object.keys(topologies)) {
    const s = streamers[mode];
    const mapsMs = [];
    let configured = null;
    for (let r = 0; r < 3; r++) {
      global.gc?.();
      const t0 = performance.now();
      const peers = [];
      let bytes = 0;
      for (const n of nodes) {
        const map = s.currentMap(n.id);
        const wg = toWgConfig(map, DEFAULT_PREFS, 'cHJpdmF0ZQ==', 51820);
        bytes += mapResponseJson({ kind: 'full', map }).length;
        peers.push({ hub: map.self.hub === true, peers: wg.peers.length, offered: map.onDemand?.length ?? 0 });
      }
      mapsMs.push(performance.now() - t0);
      configured = { peers, bytes };
    }
    const byRole = (hub) => {
      const xs = configured.peers.filter((p) => p.hub === hub).map((p) => p.peers);
      return xs.length === 0 ? null : { nodes: xs.length, meanPeers: round(xs.reduce((a, b) => a + b, 0) / xs.length, 2), maxPeers: Math.max(...xs), minPeers: Math.min(...xs) };
    };
    out[mode] = {
      buildP50Ms: round(median(build[mode]), 2),
      buildSamples: build[mode].map((x) => round(x, 2)),
      mapsP50Ms: round(median(mapsMs), 2),
      peersTotal: configured.peers.reduce((a, p) => a + p.peers, 0),
      ...(mode === 'full' ? { perNode: byRole(false) } : { spokes: byRole(false), hubs: byRole(true) }),
      ...(mode === 'end-to-end' ? { onDemandPerSpoke: round(configured.peers.filter((p) => !p.hub).reduce((a, p) => a + p.offered, 0) / configured.peers.filter((p) => !p.hub).length, 1) } : {}),
      allMapsBytes: configured.bytes,
    };
    await s.close();
  }
  return out;
}

async function child() {
  const { nodes, userGroups, acls } = mesh(NODES);
  // The first HUBS servers are the hubs.
  let hubs = 0;
  const tagged = nodes.map((n) => (n.name.startsWith('srv-') && hubs < HUBS ? (hubs++, { ...n, tags: [...n.tags, 'tag:hub'] }) : n));
  const { PluginHost } = core('plugins/plugin-host.js');
  const pino = require(require.resolve('pino', { paths: [join(ROOT, 'core')] }));
  const open = await measure(new PluginHost('controller', pino({ level: 'silent' })), tagged, userGroups);
  return withGeneratedPolicy(acls, async ({ bundle, version, dir }) => {
    const { host } = await controllerHost({ bundle, version, withShaping: false, dataDir: dir });
    const policy = await measure(host, tagged, userGroups);
    return { open, policy };
  });
}

async function run() {
  const text = execFileSync(process.execPath, ['--expose-gc', __filename, '--child'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 15 * 60_000 });
  const { open, policy } = JSON.parse(text.trim().split('\n').pop());
  const hs = open['hub-and-spoke'];
  const full = open.full;
  const e2e = open['end-to-end'];
  return {
    name: 'topology-1000',
    nodes: NODES,
    hubs: HUBS,
    trellis: {
      what: 'hub-and-spoke (2 hubs): WireGuard peers each node configures (toWgConfig of its map) and the full build (MapStreamer.refresh), no access decider',
      spokeMeanPeers: hs.spokes.meanPeers,
      spokeMaxPeers: hs.spokes.maxPeers,
      hubPeers: hs.hubs.maxPeers,
      peersTotal: hs.peersTotal,
      p50Ms: hs.buildP50Ms,
      mapsP50Ms: hs.mapsP50Ms,
      allMapsBytes: hs.allMapsBytes,
      samples: hs.buildSamples,
      endToEnd: {
        what: 'the same hub-and-spoke, hubs forwarding end to end (relay on): peers configured at rest, remote spokes offered on demand per spoke, build, maps',
        spokeMeanPeers: e2e.spokes.meanPeers,
        spokeMaxPeers: e2e.spokes.maxPeers,
        onDemandPerSpoke: e2e.onDemandPerSpoke,
        p50Ms: e2e.buildP50Ms,
        mapsP50Ms: e2e.mapsP50Ms,
        allMapsBytes: e2e.allMapsBytes,
        samples: e2e.buildSamples,
      },
    },
    baseline: {
      what: 'the full mesh of the same 1,000 nodes in the same run',
      meanPeers: full.perNode.meanPeers,
      peersTotal: full.peersTotal,
      p50Ms: full.buildP50Ms,
      mapsP50Ms: full.mapsP50Ms,
      allMapsBytes: full.allMapsBytes,
      samples: full.buildSamples,
    },
    withPolicy: {
      what: 'the same two builds with the generated 100-rule policy (posture-opa): access decides, then the topology',
      'hub-and-spoke': policy['hub-and-spoke'],
      'end-to-end': policy['end-to-end'],
      full: policy.full,
    },
    ratio: round(hs.spokes.meanPeers / full.perNode.meanPeers, 4),
    ratioOf: 'mean WireGuard peers per spoke, hub-and-spoke / full mesh (lower is better)',
    buildRatio: round(hs.buildP50Ms / full.buildP50Ms, 3),
    goal: `a spoke configures about ${HUBS} peers (its hubs), not ${NODES - 1}`,
    met: hs.spokes.maxPeers <= HUBS && e2e.spokes.maxPeers <= HUBS,
  };
}

if (process.argv.includes('--child')) {
  child()
    .then((r) => process.stdout.write(`${JSON.stringify(r)}\n`))
    .catch((e) => {
      process.stderr.write(`${e.stack}\n`);
      process.exit(1);
    });
}

module.exports = { run };
