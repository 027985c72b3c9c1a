'use strict';
/**
 * Shaping (shaping-tc on the lab mesh), each figure beside its baseline:
 * - accuracy of a class shaped to 10, 100 and 500 Mbit (n1 → n2 over WireGuard, counted as tc
 *   counts: inner IP bytes through the class); baseline: the unshaped throughput of the same path;
 * - realtime (EF ping) RTT under a bulk TCP flow on a 50 Mbit uplink (tbf on n1's eth0), with the
 *   uplink profile (42 Mbit link rate, 44.2 Mbit on the wire after WireGuard overhead) and without;
 * - apply time of a profile change (TcShaper on a veth in a namespace, median of 24 changes);
 *   baseline: tearing the whole tree down and building it again.
 * Build first: npx tsc -b core/tsconfig.json plugins/shaping-tc/tsconfig.json
 */
const { execFileSync } = require('node:child_process');
const { mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { median, percentile, round } = require('./stats');
const { Lab } = require(join(__dirname, '..', 'core', 'dist', 'lab', 'lab.js'));
const shaping = require(join(__dirname, '..', 'plugins', 'shaping-tc', 'dist', 'index.js'));
const { parseClasses } = require(join(__dirname, '..', 'plugins', 'shaping-tc', 'dist', 'tc-state.js'));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const CHANGES = 24;

const cls = (rate, ceil, priority, port) => ({ rateMbit: rate, ceilMbit: ceil, priority, ...(port ? { match: { ports: [{ proto: 'tcp', from: port }] } } : {}) });
const PROFILES = {
  // Each class has rate = ceil, so each is a hard limit; the default class (port 5203) is not limited.
  accuracy: {
    name: 'accuracy',
    linkRateMbit: 1000,
    classes: { realtime: cls(500, 500, 0, 5204), critical: cls(100, 100, 1, 5202), default: cls(10, 1000, 2), bulk: cls(10, 10, 3, 5201) },
  },
  uplink: {
    name: 'uplink',
    linkRateMbit: 42,
    ingressRateMbit: 42,
    classes: { realtime: cls(4, 42, 0), critical: cls(4, 42, 1, 22), default: cls(14, 42, 2), bulk: cls(20, 42, 3, 5201) },
  },
};
const config = (assign) =>
  JSON.stringify({
    controller: { plugins: [{ name: 'shaping-tc', config: { profiles: PROFILES, assign } }] },
    agent: { plugins: [{ name: 'shaping-tc', config: { statsIntervalMs: 1000 } }] },
  });

async function classBytes(lab, node, dev, classid) {
  const r = await lab.exec(node, 'tc', ['-j', '-s', 'class', 'show', 'dev', dev]);
  return parseClasses(r.stdout).stats.find((s) => s.classid === classid)?.bytes ?? 0;
}

/** flow runs iperf3 n1 → n2:port for `seconds`; Mbit through `classid` (tc-counted, mid-run) and goodput. */
async function flow(lab, port, seconds, classid) {
  const to = lab.node('n2').addresses.ipv4.split('/')[0];
  const run = lab.exec('n1', 'iperf3', ['-c', to, '-p', String(port), '-t', String(seconds), '-O', '1', '-J'], { timeoutMs: (seconds + 20) * 1000 });
  let tcMbit = null;
  if (classid) {
    await sleep(1500);
    const a = await classBytes(lab, 'n1', 'trlwg1', classid);
    const t0 = process.hrtime.bigint();
    await sleep((seconds - 2.5) * 1000);
    const b = await classBytes(lab, 'n1', 'trlwg1', classid);
    tcMbit = ((b - a) * 8) / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e6;
  }
  const res = await run;
  if (res.code !== 0) throw new Error(`iperf3 to port ${port} failed: ${res.stdout.slice(0, 300)} ${res.stderr}`);
  const goodput = JSON.parse(res.stdout).end.sum_received.bits_per_second / 1e6;
  // Inner IP bytes per TCP payload byte at MTU 1420 with timestamps: 1420 / 1368.
  return { tcMbit: tcMbit === null ? null : round(tcMbit, 1), goodputMbit: round(goodput, 1), ipMbit: round((goodput * 1420) / 1368, 1) };
}

async function pings(lab, count) {
  const to = lab.node('n2').addresses.ipv4.split('/')[0];
  const r = await lab.exec('n1', 'ping', ['-Q', '0xb8', '-i', '0.02', '-c', String(count), '-W', '1', '-n', to], { timeoutMs: count * 20 + 10_000 });
  return [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
}

async function rttUnderLoad(lab) {
  const to = lab.node('n2').addresses.ipv4.split('/')[0];
  const run = lab.exec('n1', 'iperf3', ['-c', to, '-p', '5201', '-t', '9', '-J'], { timeoutMs: 30_000 });
  await sleep(1500);
  const rtts = await pings(lab, 300);
  const res = await run;
  return { p50Ms: round(percentile(rtts, 50), 2), p95Ms: round(percentile(rtts, 95), 2), replies: rtts.length, bulkMbit: round(JSON.parse(res.stdout).end.sum_received.bits_per_second / 1e6, 1) };
}

async function restart(lab, file, text) {
  writeFileSync(file, text);
  await lab.stopController();
  const at = Date.now();
  await lab.startController();
  for (const n of ['n1', 'n2']) {
    for (let i = 0; ; i++) {
      const s = await lab.status(n).catch(() => null);
      if (s && s.controller.connected && (s.map.appliedAt ?? 0) > at) break;
      if (i > 300) throw new Error(`${n} did not take a map from the restarted controller`);
      await sleep(100);
    }
  }
  await sleep(1000); // let the shaping apply (it follows the map)
}

async function labFigures() {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-bench-shaping-'));
  const file = join(dir, 'trellis.json');
  writeFileSync(file, config([{ node: 'n1', profile: 'accuracy' }]));
  const lab = await Lab.up({ nodes: 2, configFile: file, probeIntervalMs: 5000 });
  try {
    for (const p of [5201, 5202, 5203, 5204]) await lab.exec('n2', 'iperf3', ['-s', '-D', '-p', String(p)]);
    for (let i = 0; !(await lab.status('n1')).extensions['shaping-tc']; i++) {
      if (i > 100) throw new Error('n1 did not apply its shaping profile');
      await sleep(200);
    }
    // Which wireguard-go build carried the figures: its TUN offloads decide how packets reach tc.
    const d = (await lab.status('n1')).device ?? null;
    const device = d && { binary: d.binary, version: d.version, commit: d.commit, offloads: d.offloads };
    const unshapedClass = await flow(lab, 5203, 6, '1:30');
    const shaped = {};
    for (const [mbit, port, classid] of [[10, 5201, '1:40'], [100, 5202, '1:20'], [500, 5204, '1:10']]) shaped[mbit] = await flow(lab, port, 7, classid);

    await restart(lab, file, config([{ node: 'n1', profile: 'uplink' }]));
    await lab.exec('n1', 'tc', ['qdisc', 'replace', 'dev', 'eth0', 'root', 'tbf', 'rate', '50mbit', 'burst', '32kb', 'latency', '50ms']);
    const idleRtts = await pings(lab, 150);
    const withShaping = await rttUnderLoad(lab);

    await restart(lab, file, config([]));
    const withoutShaping = await rttUnderLoad(lab);
    await lab.exec('n1', 'tc', ['qdisc', 'del', 'dev', 'eth0', 'root']);
    const unshaped = await flow(lab, 5203, 6, null);
    return { device, unshaped, unshapedClass, shaped, idle: { p50Ms: round(percentile(idleRtts, 50), 2), p95Ms: round(percentile(idleRtts, 95), 2) }, withShaping, withoutShaping };
  } finally {
    await lab.down();
    rmSync(dir, { recursive: true, force: true });
  }
}

const quietLog = { debug() {}, info() {}, warn() {}, error() {} };

async function applyFigures() {
  const ns = 'trlb-shape';
  const sh = (...a) => execFileSync(a[0], a.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  try { sh('ip', 'netns', 'del', ns); } catch { /* not there */ }
  sh('ip', 'netns', 'add', ns);
  const stateDir = mkdtempSync(join(tmpdir(), 'trellis-bench-shaping-state-'));
  try {
    sh('ip', '-n', ns, 'link', 'add', 'trlbsh0', 'type', 'veth', 'peer', 'name', 'trlbsh1');
    sh('ip', '-n', ns, 'link', 'set', 'trlbsh0', 'up');
    const runner = new shaping.ExecRunner({ netns: ns });
    const caps = await shaping.detectCapabilities(runner);
    const shaper = new shaping.TcShaper({ iface: 'trlbsh0', stateDir, runner, capabilities: caps, log: quietLog });
    const base = { ...PROFILES.uplink, ingressRateMbit: 40 };
    const variant = (i) => ({ ...base, classes: { ...base.classes, bulk: { ...base.classes.bulk, rateMbit: 10 + (i % 2) * 5 } } });
    await shaper.apply(variant(0));
    const changeMs = [];
    const rebuildMs = [];
    let commands = 0;
    for (let i = 1; i <= CHANGES; i++) {
      const t0 = process.hrtime.bigint();
      const res = await shaper.apply(variant(i));
      changeMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
      commands += res.commands.length;
      const b0 = process.hrtime.bigint();
      await shaper.cleanup();
      await shaper.apply(variant(i));
      rebuildMs.push(Number(process.hrtime.bigint() - b0) / 1e6);
    }
    await shaper.cleanup();
    return { changeMs, rebuildMs, commandsPerChange: commands / CHANGES, leaf: shaper.leafKind };
  } finally {
    try { sh('ip', 'netns', 'del', ns); } catch { /* gone */ }
    rmSync(stateDir, { recursive: true, force: true });
  }
}

async function run() {
  const lab = await labFigures();
  const apply = await applyFigures();
  const ceiling = lab.unshaped.ipMbit;
  const accuracy = [10, 100, 500].map((mbit) => {
    const s = lab.shaped[mbit];
    const reachable = ceiling >= mbit * 1.1;
    const err = (s.tcMbit - mbit) / mbit;
    return {
      name: `shaping-accuracy-${mbit}`,
      trellis: { classMbit: mbit, tcCountedMbit: s.tcMbit, goodputMbit: s.goodputMbit, errorPct: round(err * 100, 1) },
      baseline: { what: 'unshaped throughput of the same path (inner IP Mbit, from goodput × 1420/1368)', ipMbit: ceiling, goodputMbit: lab.unshaped.goodputMbit, throughHtbDefaultClass: lab.unshapedClass },
      ratio: round(s.tcMbit / ceiling, 3),
      ratioMeaning: 'shaped class throughput / unshaped throughput',
      goal: `within ±5 % of ${mbit} Mbit (only measurable when the unshaped path carries ≥ 110 % of it)`,
      reachable,
      met: reachable && Math.abs(err) <= 0.05,
    };
  });
  const latency = {
    name: 'shaping-priority-latency',
    trellis: { idle: lab.idle, underLoad: lab.withShaping },
    baseline: { what: 'same bulk load, shaping off (queue forms in the 50 Mbit uplink tbf)', underLoad: lab.withoutShaping },
    ratio: round(lab.withoutShaping.p95Ms / lab.withShaping.p95Ms, 2),
    ratioMeaning: 'unshaped p95 / shaped p95 of realtime (EF) RTT (higher is better for trellis)',
    goal: 'shaped realtime p95 within 5 ms of idle p95',
    met: lab.withShaping.p95Ms <= lab.idle.p95Ms + 5,
  };
  const t = median(apply.changeMs);
  const b = median(apply.rebuildMs);
  const applyTime = {
    name: 'shaping-apply',
    changes: CHANGES,
    trellis: { p50Ms: round(t), p95Ms: round(percentile(apply.changeMs, 95)), commandsPerChange: apply.commandsPerChange },
    baseline: { what: 'tear the whole tree down (egress, ingress, ifb) and build it again', p50Ms: round(b), p95Ms: round(percentile(apply.rebuildMs, 95)) },
    ratio: round(b / t, 2),
    ratioMeaning: 'baseline time / trellis time (higher is better for trellis)',
    goal: 'a one-class change applies faster than a rebuild, with one tc command per direction',
    met: t < b,
  };
  for (const r of [...accuracy, latency]) r.wireguardGo = lab.device;
  return [...accuracy, latency, applyTime];
}

module.exports = { run };
if (require.main === module) run().then((r) => console.log(JSON.stringify(r, null, 2)), (e) => { console.error(e); process.exit(1); });
