'use strict';
/**
 * map-change-10000: the time from a one-node change in the store to every resulting delta being
 * ready (computed, versioned and serialised for the open stream of each affected node), at 10,000
 * nodes under the generated 100-rule policy (mesh() in bench/policy.js) with shaping-tc beside it,
 * for a join (the new node's own full map included, as the enroll reply carries it), an endpoint
 * change and a revoke; beside the full rebuild of the same kind of change (every map built again
 * from the store and diffed) in the same run and process. "Ready" is until every delta has been
 * handed to its stream; the JSON text each stream writes is timed apart (serializedP50Ms), because
 * its size is the wire format's. The streams take packet filter patches, as this version's agents
 * ask for them (a join adds its addresses to the filters of a thousand nodes; whole filters made
 * that 112 MB of JSON per join before patches).
 *
 * The controller's MapStreamer runs as in the controller, with its batch window at 0 ms (the window
 * is a wait for more changes, not work) and an in-memory store (bench/memory-controller.js; both
 * paths read the store: one node for a change, every node for a rebuild). Runs in a child node with
 * --expose-gc.
 */
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');
const { memoryStreamer } = require('./memory-controller');
const { median, percentile, round } = require('./stats');
const { controllerHost, mesh, withGeneratedPolicy } = require('./policy');

const ROOT = join(__dirname, '..');
const core = (p) => require(join(ROOT, 'core', 'dist', p));
const NOW = 1_700_000_000_000;
const PER_KIND = 30;
const WARMUP = 5;
const FULL_ROUNDS = 7;

async function child(n) {
  const { mapResponseJson } = core('controller/map-response-json.js');
  const { nodes, userGroups, acls } = mesh(n);
  return withGeneratedPolicy(acls, async ({ bundle, version, dir }) => {
    const { host } = await controllerHost({ bundle, version, withShaping: true, dataDir: dir });
    const { streamer, store } = memoryStreamer({ host, nodes, userGroups, now: NOW });
    let sent = 0;
    let bytes = 0;
    let serializeMs = 0;
    const attach = (id) =>
      streamer.attach(id, {
        // As agents of this version ask (MAP_FEATURE_FILTER_PATCH): packet filter changes as patches.
        filterPatches: true,
        // As the SSE route does: each delta is serialised for its stream.
        send(r) {
          const t = performance.now();
          bytes += mapResponseJson(r).length;
          serializeMs += performance.now() - t;
          sent++;
        },
        ping() {},
        close() {},
      });
    const t0 = performance.now();
    await streamer.refresh('start');
    const firstBuildMs = performance.now() - t0;
    for (const node of nodes) attach(node.id);

    // Deterministic picks, so every run changes the same nodes.
    let seed = 0x5eed;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
    const live = () => [...store.nodes.values()].filter((x) => !x.revoked);
    let joined = 0;
    const changes = {
      join: () => {
        const i = n + joined++;
        const like = nodes[Math.floor(rand() * nodes.length)];
        const node = { ...like, id: `n${String(i).padStart(6, '0')}`, name: `${like.name}-j${i}`, ipv4: `100.64.${i >> 8}.${i & 255}`, ipv6: `fd7a:115c:a1e0::${(i + 1).toString(16)}`, wgKey: Buffer.from(`key-${i}`.padEnd(32, '.')).toString('base64'), endpoints: [`198.18.${(i >> 8) & 255}.${i & 255}:41641`] };
        store.nodes.set(node.id, node);
        attach(node.id);
        return node.id;
      },
      endpoint: () => {
        const xs = live();
        const node = xs[Math.floor(rand() * xs.length)];
        store.nodes.set(node.id, { ...node, endpoints: [`203.0.113.${Math.floor(rand() * 250)}:${40000 + Math.floor(rand() * 1000)}`] });
        return node.id;
      },
      revoke: () => {
        const xs = live();
        const node = xs[Math.floor(rand() * xs.length)];
        store.nodes.set(node.id, { ...node, revoked: true, revokedAt: NOW });
        return node.id;
      },
    };
    const once = async (kind, full) => {
      global.gc?.();
      const before = { sent, bytes, serializeMs, full: streamer.stats().fullBuilds };
      const cpu = process.cpuUsage();
      const started = performance.now();
      const id = changes[kind]();
      if (full) await streamer.refresh(`${kind} (full)`);
      else {
        streamer.nodeChanged(id, kind);
        await streamer.settled();
      }
      if (kind === 'join' && !streamer.currentMap(id)) throw new Error(`joined node ${id} has no map`);
      const ms = performance.now() - started;
      const used = process.cpuUsage(cpu);
      const cpuMs = (used.user + used.system) / 1000;
      const fulls = streamer.stats().fullBuilds - before.full;
      if (!full && fulls !== 0) throw new Error(`a one-node ${kind} took a full build`);
      return { ms, cpuMs, deltas: sent - before.sent, bytes: bytes - before.bytes, serializeMs: serializeMs - before.serializeMs };
    };
    const kinds = ['join', 'endpoint', 'revoke'];
    for (let r = 0; r < WARMUP; r++) for (const k of kinds) await once(k, false);
    const samples = { join: [], endpoint: [], revoke: [] };
    for (let r = 0; r < PER_KIND; r++) for (const k of kinds) samples[k].push(await once(k, false));
    const full = [];
    for (let r = 0; r < FULL_ROUNDS; r++) full.push(await once(kinds[r % kinds.length], true));
    // ready: the deltas computed, versioned and handed to every affected stream; the JSON text per
    // stream (shared parts serialised once) is timed inside the sinks and reported beside it.
    const sum = (xs) => ({
      p50Ms: round(median(xs.map((x) => x.ms - x.serializeMs)), 2),
      p95Ms: round(percentile(xs.map((x) => x.ms - x.serializeMs), 95), 2),
      cpuWithSerializingP50Ms: round(median(xs.map((x) => x.cpuMs)), 2),
      serializedP50Ms: round(median(xs.map((x) => x.ms)), 2),
      serializeP50Ms: round(median(xs.map((x) => x.serializeMs)), 2),
      deltasP50: median(xs.map((x) => x.deltas)),
      bytesP50: median(xs.map((x) => x.bytes)),
      changes: xs.length,
      samples: xs.map((x) => round(x.ms - x.serializeMs, 2)),
    });
    return {
      nodes: n,
      rules: acls.rules.length,
      firstBuildMs: round(firstBuildMs, 1),
      join: sum(samples.join),
      endpoint: sum(samples.endpoint),
      revoke: sum(samples.revoke),
      full: sum(full),
      stats: streamer.stats(),
    };
  });
}

const pick = (k) => ({ p50Ms: k.p50Ms, p95Ms: k.p95Ms, serializedP50Ms: k.serializedP50Ms, cpuWithSerializingP50Ms: k.cpuWithSerializingP50Ms, deltasP50: k.deltasP50, bytesP50: k.bytesP50 });

function run(n = 10_000) {
  const out = execFileSync(process.execPath, ['--expose-gc', '--max-old-space-size=8000', __filename, '--child', String(n)], { encoding: 'utf8', maxBuffer: 16 << 20, stdio: ['ignore', 'pipe', 'inherit'] });
  const r = JSON.parse(out);
  const worst = Math.max(r.join.p50Ms, r.endpoint.p50Ms, r.revoke.p50Ms);
  const ratio = round(r.full.p50Ms / worst, 1);
  return {
    name: `map-change-${n}`,
    nodes: n,
    rules: r.rules,
    trellis: {
      what: 'one-node change -> every delta computed and handed to its stream (incremental), p50/p95 per kind; serializedP50Ms adds the JSON text per stream',
      join: pick(r.join),
      endpoint: pick(r.endpoint),
      revoke: pick(r.revoke),
    },
    baseline: { what: 'the same kinds of change applied by a full rebuild (build every map, diff, send)', ...pick(r.full) },
    details: r,
    ratio,
    ratioMeaning: 'full rebuild p50 / slowest incremental p50, both until the deltas are handed to the streams (higher is better for trellis)',
    serializedRatio: round(r.full.serializedP50Ms / Math.max(r.join.serializedP50Ms, r.endpoint.serializedP50Ms, r.revoke.serializedP50Ms), 1),
    goal: 'incremental p50 <= 50 ms for each kind, >= 10x faster than the full rebuild, full rebuild <= 1000 ms',
    met: worst <= 50 && ratio >= 10 && r.full.p50Ms <= 1000,
  };
}

module.exports = { run };
if (require.main === module) {
  if (process.argv[2] === '--child') {
    child(Number(process.argv[3])).then((r) => process.stdout.write(JSON.stringify(r)), (e) => { console.error(e); process.exit(1); });
  } else {
    console.log(JSON.stringify(run(Number(process.argv[2] ?? 10_000)), null, 2));
  }
}
