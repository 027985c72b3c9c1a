'use strict';
/**
 * HA gateway failover on the lab: one site LAN 10.20.0.0/24 behind n2 (priority 200) and n3 (190),
 * both approved; n1 reaches the LAN host through the primary. Per trial: kill n2's agent (its map
 * stream closes) or take its LAN link down (its route check fails), and time until n1 routes the LAN
 * through n3 and the host answers (polled every 20 ms); then bring n2 back, check that the route
 * stays on n3 while n2 is healthy inside the hold-down (3 s here) and that it returns to n2 only
 * after it. Baseline: Tailscale's HA subnet routers, documented to fail over in up to ~15 s and only
 * on router death, never on a dead LAN side (tailscale#16357); an anchor from their docs, not
 * measured here.
 */
const { join } = require('node:path');
const { median, percentile, round } = require('./stats');
const { until } = require('./polling');
const { Lab } = require(join(__dirname, '..', 'core', 'dist', 'lab', 'lab.js'));

const LAN = '10.20.0.0/24';
const HOST = '10.20.0.10';
const HOLD_DOWN_MS = 3000;
const TAILSCALE_MS = 15000;
const note = (msg) => process.stderr.write(`bench: ${msg}\n`);

async function run(trials = Number(process.env.TRELLIS_BENCH_HA_TRIALS ?? 10)) {
  const lab = await Lab.up({ nodes: 3, sites: [{ prefix: LAN, gateways: ['n2', 'n3'] }], env: { TRELLIS_ROUTE_HOLD_DOWN: `${HOLD_DOWN_MS}ms` } });
  const via = async () => (await lab.status('n1')).routes?.installed.find((r) => r.prefix === LAN)?.via ?? null;
  const ping = async () => (await lab.exec('n1', 'ping', ['-n', '-c', '1', '-W', '1', HOST], { timeoutMs: 5000 })).code === 0;
  const gateway = async (node) => (await (await lab.adminFetch('/v1/admin/routes')).json()).find((r) => r.node === node);
  try {
    await until('both gateways to advertise', async () => (await (await lab.adminFetch('/v1/admin/routes')).json()).length === 2, 15000, 100);
    for (const node of ['n2', 'n3']) {
      await lab.adminFetch('/v1/admin/routes/decide', { method: 'POST', body: JSON.stringify({ node, prefix: LAN, decision: 'approve' }) });
    }
    await until('n1 to route through n2', async () => (await via()) === 'n2' && (await ping()), 15000, 100);
    const results = [];
    for (const [mode, cut, heal] of [
      ['agent-kill', () => lab.killAgent('n2'), () => lab.startAgent('n2')],
      ['lan-cut', () => lab.exec('n2', 'ip', ['link', 'set', 'lan0', 'down']), () => lab.exec('n2', 'ip', ['link', 'set', 'lan0', 'up'])],
    ]) {
      const samples = [];
      let flapBacks = 0;
      for (let i = 0; i < trials; i++) {
        const t0 = Date.now();
        await cut();
        await until('the route to move to n3', async () => (await via()) === 'n3', 10000);
        await until('the host to answer through n3', ping, 5000);
        samples.push(Date.now() - t0);
        await heal();
        await until('n2 to be healthy again', async () => (await gateway('n2'))?.healthy === true, HOLD_DOWN_MS + 10000, 50);
        const inside = Date.now() - t0 < HOLD_DOWN_MS;
        let flapped = inside && (await via()) !== 'n3';
        await until('the route to return to n2', async () => (await via()) === 'n2', HOLD_DOWN_MS + 10000, 50);
        // The hold-down starts at the failover, no earlier than t0: a return before t0 + hold-down is a flap-back.
        if (Date.now() - t0 < HOLD_DOWN_MS) flapped = true;
        if (flapped) flapBacks++;
        note(`${mode} ${i + 1}: ${samples[samples.length - 1]} ms${inside ? '' : ' (n2 came back after the hold-down: flap-back not checked)'}`);
        await until('the host to answer through n2', ping, 5000, 50);
      }
      const p95 = percentile(samples, 95);
      results.push({
        name: `ha-failover-${mode}`,
        what: `${trials} failovers of a subnet route from n2 to n3 after ${mode === 'agent-kill' ? "SIGKILL of n2's agent" : "n2's LAN link going down (its --route-check target stops answering)"}, until n1 routes through n3 and the LAN host answers; lab of 3 nodes on a shared 2-core machine`,
        trellis: { p50Ms: round(median(samples), 0), p95Ms: round(p95, 0), samplesMs: samples, flapBacks, holdDownMs: HOLD_DOWN_MS },
        baseline: {
          what: mode === 'agent-kill'
            ? 'Tailscale HA subnet routers: failover in up to ~15 s (documented, not measured here)'
            : 'Tailscale HA subnet routers do not fail over on a dead LAN side at all (tailscale#16357); ~15 s shown for scale',
          tailscaleMs: TAILSCALE_MS,
        },
        ratio: round(p95 / TAILSCALE_MS, 3),
        ratioMeaning: 'Trellis p95 over Tailscale’s ~15 s',
        goal: 'p95 <= 3000 ms, no flap-back within the hold-down',
        met: p95 <= 3000 && flapBacks === 0,
      });
    }
    return results;
  } finally {
    await lab.down();
  }
}

module.exports = { run };
if (require.main === module) run().then((r) => console.log(JSON.stringify(r, null, 2)), (e) => { console.error(e); process.exit(1); });
