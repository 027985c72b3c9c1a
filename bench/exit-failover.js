'use strict';
/**
 * Exit node failover on the lab: n3 and n4 are approved exit nodes; n1 uses n3 with n4 as fallback
 * (`--exit-node n3 --exit-node-fallback n4`), and the lab's internet server answers with the address
 * a request came from. Trials alternate: kill n3's agent (SIGKILL; its map stream closes) and time
 * until the server sees n4, polling an HTTP request every 20 ms; bring n3 back; then kill n4's
 * agent while n1 is still on it (inside the 10 s failback hold-down) and time until the server sees
 * n3 again; bring n4 back. Killed agents leave their WireGuard device and NAT in place, as a crash
 * would, so traffic moves only when n1 chooses another exit node. Baseline: Tailscale's exit nodes
 * do not fail over at all (tailscale#6264): traffic stops until the user picks another; an anchor,
 * not measured here.
 */
const { join } = require('node:path');
const { median, percentile, round } = require('./stats');
const { until } = require('./polling');
const { Lab } = require(join(__dirname, '..', 'core', 'dist', 'lab', 'lab.js'));
const { INTERNET_SERVER } = require(join(__dirname, '..', 'core', 'dist', 'lab', 'lab-internet.js'));

const note = (msg) => process.stderr.write(`bench: ${msg}\n`);

async function run(trials = Number(process.env.TRELLIS_BENCH_EXIT_TRIALS ?? 10)) {
  const lab = await Lab.up({
    nodes: 4,
    internet: true,
    agentArgs: { n1: ['--exit-node', 'n3', '--exit-node-fallback', 'n4'], n3: ['--advertise-exit'], n4: ['--advertise-exit'] },
  });
  const underlay = (n) => lab.node(n).underlay;
  const whoAmI = async () => {
    const r = await lab.exec('n1', 'curl', ['-s', '--max-time', '1', `http://${INTERNET_SERVER}/`], { timeoutMs: 3000 });
    return r.code === 0 ? r.stdout.trim() : null;
  };
  const routes = async () => (await lab.adminFetch('/v1/admin/routes')).json();
  const exitOnline = async (node) => (await routes()).some((r) => r.node === node && r.kind === 'exit' && r.online);
  try {
    await until('both exit nodes to advertise', async () => (await routes()).filter((r) => r.kind === 'exit').length === 4, 15000, 100);
    for (const node of ['n3', 'n4']) {
      for (const prefix of ['0.0.0.0/0', '::/0']) {
        await lab.adminFetch('/v1/admin/routes/decide', { method: 'POST', body: JSON.stringify({ node, prefix, decision: 'approve' }) });
      }
    }
    await until('the server to see n3', async () => (await whoAmI()) === underlay('n3'), 20000, 100);
    const samples = { 'preferred-dies': [], 'fallback-dies': [] };
    const skipped = { 'preferred-dies': 0, 'fallback-dies': 0 };
    for (let i = 0; i < trials; i++) {
      for (const [mode, dead, next] of [['preferred-dies', 'n3', 'n4'], ['fallback-dies', 'n4', 'n3']]) {
        // n1 must be on the exit node about to die (for fallback-dies: n3 came back less than the hold-down ago).
        if ((await whoAmI()) !== underlay(dead)) {
          skipped[mode]++;
          note(`${mode} ${i + 1}: n1 was not on ${dead}; skipped`);
          continue;
        }
        const t0 = Date.now();
        await lab.killAgent(dead);
        await until(`the server to see ${next}`, async () => (await whoAmI()) === underlay(next), 15000);
        samples[mode].push(Date.now() - t0);
        note(`${mode} ${i + 1}: ${samples[mode][samples[mode].length - 1]} ms`);
        await lab.startAgent(dead);
        await until(`${dead} to be online again`, () => exitOnline(dead), 15000, 50);
      }
    }
    return Object.entries(samples).map(([mode, s]) => {
      if (s.length === 0) throw new Error(`${mode}: every trial was skipped`);
      const p95 = percentile(s, 95);
      return {
        name: `exit-failover-${mode}`,
        what:
          mode === 'preferred-dies'
            ? `${trials} times: n1's exit node n3 loses its agent (SIGKILL) → the internet server sees n1's requests from its fallback n4 (HTTP polled every 20 ms); lab of 4 nodes with an internet namespace on a shared 2-core machine`
            : `${trials} times: n1 is on its fallback n4 (n3 back but inside the 10 s failback hold-down) and n4 loses its agent → the server sees n3 again`,
        trellis: { p50Ms: round(median(s), 0), p95Ms: round(p95, 0), samplesMs: s, skippedTrials: skipped[mode] },
        baseline: { what: 'Tailscale exit nodes do not fail over (tailscale#6264): traffic stops until the user picks another exit node; not measured here', tailscaleMs: null },
        ratio: null,
        goal: 'p95 <= 3000 ms (the HA gateway goal, applied to exit nodes)',
        met: p95 <= 3000,
      };
    });
  } finally {
    await lab.down();
  }
}

module.exports = { run };
if (require.main === module) run().then((r) => console.log(JSON.stringify(r, null, 2)), (e) => { console.error(e); process.exit(1); });
