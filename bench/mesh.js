'use strict';
/**
 * Mesh benchmarks on the lab (throughput has its own suite, bench/throughput.js):
 * - join time: from the new node's `trellis up` (its agent process start) until every existing peer
 *   has completed a WireGuard handshake with it, over >= 10 joins.
 */
const { execFileSync } = require('node:child_process');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { median, percentile, round } = require('./stats');
const { Lab } = require(join(__dirname, '..', 'core', 'dist', 'lab', 'lab.js'));

const sh = (cmd, args, opts = {}) =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...opts });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Unix ms when a process started, from /proc (resolution: one clock tick). The start is counted
 * back from now with /proc/uptime, the clock /proc/<pid>/stat counts in: adding it to /proc/stat's
 * btime instead (whole seconds, and drifting from wall time on a VM) put starts 680 ms early on
 * this machine, which made every join look that much slower.
 */
function processStartMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const startTicks = Number(fields[19]);
  const hz = Number(sh('getconf', ['CLK_TCK']).trim());
  const uptimeS = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return Date.now() - (uptimeS * 1000 - (startTicks / hz) * 1000);
}

const note = (msg) => process.stderr.write(`bench: ${msg}\n`);

async function joinTime(lab, joins = 10) {
  const samples = [];
  for (let j = 0; j < joins; j++) {
    const existing = lab.describe().nodes.map((n) => n.name);
    const node = await lab.addNode();
    const started = processStartMs(node.pid);
    const deadline = Date.now() + 30_000;
    let last = null;
    for (;;) {
      const handshakes = await Promise.all(existing.map(async (name) => {
        const st = await lab.status(name);
        const p = st.peers.find((x) => x.name === node.name);
        return p && p.lastHandshake ? p.lastHandshake : null;
      }));
      if (handshakes.every((h) => h !== null)) {
        last = Math.max(...handshakes);
        break;
      }
      if (Date.now() > deadline) throw new Error(`join of ${node.name}: not every peer completed a handshake within 30 s`);
      await sleep(50);
    }
    samples.push(last - started);
    note(`join ${node.name}: ${Math.round(last - started)} ms`);
  }
  return {
    name: 'join-time',
    what: `${joins} joins into a lab that grows from ${lab.describe().nodes.length - joins} nodes; agent start -> last peer handshake`,
    p50Ms: round(median(samples), 0),
    p95Ms: round(percentile(samples, 95), 0),
    samplesMs: samples.map((s) => round(s, 0)),
    goal: 'p95 <= 1000 ms',
    met: percentile(samples, 95) <= 1000,
  };
}

async function run() {
  const lab = await Lab.up({ nodes: 3 });
  try {
    return [await joinTime(lab)];
  } finally {
    await lab.down();
  }
}

module.exports = { run, joinTime };
if (require.main === module) run().then((r) => console.log(JSON.stringify(r, null, 2)), (e) => { console.error(e); process.exit(1); });
