'use strict';
/**
 * join20: how long a mesh of 20 nodes that all join at once takes to converge, beside 5 nodes
 * joining at once in the same run (the baseline). A fresh lab per trial (`trellis lab up --nodes N`,
 * relay n3 so every pair of non-relays also has a relayed candidate to measure); every agent is
 * started back to back without waiting for the mesh, then every node's agent is polled until:
 * - maps: every node holds a map with all N-1 peers;
 * - paths: every pair has a confirmed path on both ends (the deciding node chose a candidate that
 *   answered its disco pings, the other adopted it): the mesh is converged.
 * Times count from the first agent's start; the spread of the starts is reported beside them.
 */
const { loadavg, cpus } = require('node:os');
const { join } = require('node:path');
const { median, percentile, round } = require('./stats');

const dist = (p) => require(join(__dirname, '..', 'core', 'dist', ...p.split('/')));
const { Lab } = dist('lab/lab.js');

const TRIALS = Number(process.env.TRELLIS_BENCH_JOIN_TRIALS ?? 3);
const SIZES = { trellis: 20, baseline: 5 };
const TIMEOUT_MS = 180_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const note = (msg) => process.stderr.write(`bench: ${msg}\n`);

/** converged: what one poll of every node saw (null for a node whose agent does not answer yet). */
async function poll(lab, names) {
  const statuses = await Promise.all(names.map((n) => lab.status(n).catch(() => null)));
  const want = names.length - 1;
  const maps = statuses.every((s) => s !== null && s.peers.length === want);
  const paths = statuses.every((s) => s !== null && s.paths?.available === true && s.paths.peers.length === want && s.paths.peers.every((p) => p.active !== null));
  const confirmed = statuses.reduce((n, s) => n + (s?.paths?.peers.filter((p) => p.active !== null).length ?? 0), 0);
  return { maps, paths, confirmed };
}

async function trial(nodes) {
  const started = [];
  const lab = await Lab.up({
    nodes,
    relays: ['n3'],
    waitForMesh: false,
    measureNats: false,
    onProgress: (e) => {
      if (e.kind === 'node-started') started.push(Date.now());
    },
  });
  try {
    const names = lab.describe().nodes.map((n) => n.name);
    const t0 = started[0];
    let mapsAt = null;
    let last = null;
    for (;;) {
      const p = await poll(lab, names);
      last = p;
      const now = Date.now();
      if (p.maps && mapsAt === null) mapsAt = now;
      if (p.paths) {
        return { nodes, startSpreadMs: started[started.length - 1] - t0, mapsMs: (mapsAt ?? now) - t0, convergedMs: now - t0 };
      }
      if (now - t0 > TIMEOUT_MS) throw new Error(`${nodes} nodes did not converge within ${TIMEOUT_MS / 1000} s: ${last.confirmed} of ${nodes * (nodes - 1)} pair ends confirmed`);
      await sleep(200);
    }
  } finally {
    await lab.down();
  }
}

async function run() {
  const before = loadavg().map((x) => round(x, 2));
  const samples = { trellis: [], baseline: [] };
  // Interleaved, so a slow stretch of the machine hits both sizes alike.
  for (let i = 0; i < TRIALS; i++) {
    for (const which of ['baseline', 'trellis']) {
      const t = await trial(SIZES[which]);
      note(`join: ${t.nodes} nodes at once (started over ${t.startSpreadMs} ms): maps ${t.mapsMs} ms, every pair on a confirmed path ${t.convergedMs} ms`);
      samples[which].push(t);
    }
  }
  const fig = (ts) => ({
    nodes: ts[0].nodes,
    p50Ms: round(median(ts.map((t) => t.convergedMs)), 0),
    maxMs: Math.max(...ts.map((t) => t.convergedMs)),
    mapsP50Ms: round(median(ts.map((t) => t.mapsMs)), 0),
    startSpreadP50Ms: round(median(ts.map((t) => t.startSpreadMs)), 0),
    samplesMs: ts.map((t) => t.convergedMs),
  });
  const trellis = fig(samples.trellis);
  const baseline = fig(samples.baseline);
  const pairs = (n) => (n * (n - 1)) / 2;
  return [
    {
      name: 'join20',
      what: `${SIZES.trellis} nodes started at once (lab, relay n3) until every pair has a confirmed path on both ends, from the first agent's start; ${TRIALS} trials, interleaved with ${SIZES.baseline} nodes`,
      trellis,
      baseline: { what: `${SIZES.baseline} nodes joining at once, same method, same run`, ...baseline },
      ratio: round(trellis.p50Ms / baseline.p50Ms, 3),
      ratioMeaning: `median convergence of ${SIZES.trellis} nodes over ${SIZES.baseline} (${pairs(SIZES.trellis)} pairs over ${pairs(SIZES.baseline)})`,
      machine: { cpus: cpus().length, loadavgBefore: before, loadavgAfter: loadavg().map((x) => round(x, 2)) },
      goal: `every trial converges, and the time grows no faster than the number of pairs (ratio <= ${pairs(SIZES.trellis) / pairs(SIZES.baseline)})`,
      met: samples.trellis.length === TRIALS && trellis.p50Ms / baseline.p50Ms <= pairs(SIZES.trellis) / pairs(SIZES.baseline),
    },
  ];
}

module.exports = { run };

if (require.main === module) {
  run()
    .then((r) => console.log(JSON.stringify(r, null, 2)))
    .catch((e) => {
      console.error(`bench join20: ${e.message}`);
      process.exit(1);
    });
}
