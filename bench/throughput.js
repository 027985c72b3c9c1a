'use strict';
/**
 * throughput: iperf3 over the overlay from n1 to n2 of a two-node lab, single stream and 4 streams
 * (`-P 4`), four devices measured in the same run and the same two namespaces:
 * - trellis: the agents' own devices, running trellis-wg (the pinned upstream wireguard-go device
 *   with Trellis's datagram filter and control socket; checked through the agents' status:
 *   binary, commit, TUN offloads);
 * - hand: the same binary, a pair configured by hand with `wg` as an admin would (goal: Trellis
 *   carries >= 95 % of it);
 * - upstream: the bundled upstream wireguard-go at the commit trellis-wg links, a pair configured
 *   by hand the same way (goal: trellis-wg by hand carries >= 95 % of it: the filter costs nothing);
 * - debian: Debian's /usr/bin/wireguard-go (0.0.20220316), a pair configured by hand the same way
 *   (goal: Trellis carries >= 4x).
 * Each round runs the four back to back, in the order trellis, hand, upstream, debian and then reversed in
 * the next round, so a drift in the machine's load hits every device alike; ratios are the median
 * of each round's paired ratio (Trellis over the other device in the same round), which other jobs
 * on the shared cores disturb far less than a ratio of medians taken minutes apart. CPU per Gbit/s is
 * each end's wireguard-go CPU time (utime + stime of every thread, /proc/<pid>/stat, read before
 * and after each run) over the gigabits it carried: CPU seconds per Gbit, which is also cores per
 * Gbit/s. Every node's processes run in a session of their own (see the README on CFS autogroup):
 * the agents and their devices by the lab, the hand-made daemons by setsid.
 */
const { execFileSync, spawn } = require('node:child_process');
const { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { loadavg, tmpdir } = require('node:os');
const { join } = require('node:path');
const { median, round } = require('./stats');
const { Lab } = require(join(__dirname, '..', 'core', 'dist', 'lab', 'lab.js'));
const { BUNDLED_WIREGUARD_GO } = require(join(__dirname, '..', 'core', 'dist', 'wg', 'wireguard-go.js'));
const { BUNDLED_TRELLIS_WG } = require(join(__dirname, '..', 'core', 'dist', 'wg', 'trellis-wg.js'));
const { segmentationOffloadOn } = require(join(__dirname, '..', 'core', 'dist', 'wg', 'tun-offloads.js'));

const DEBIAN_WIREGUARD_GO = '/usr/bin/wireguard-go';
const ROUNDS = Number(process.env.TRELLIS_BENCH_THROUGHPUT_ROUNDS ?? 6);
const SECONDS = Number(process.env.TRELLIS_BENCH_THROUGHPUT_SECONDS ?? 5);
const PORT = 5299;

const sh = (cmd, args, opts = {}) =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...opts });
const nsx = (ns, cmd, args) => sh('ip', ['netns', 'exec', ns, cmd, ...args]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const note = (msg) => process.stderr.write(`bench: ${msg}\n`);
const CLK_TCK = Number(sh('getconf', ['CLK_TCK']).trim());

/** cpuSeconds is a process's CPU time so far, all threads, user + system. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** The kernel's CFS autogroup setting ("1": every session is a scheduling group), or null if unknown. */
function autogroupSetting() {
  try {
    return readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * A wireguard-go pair in n1/n2 configured by hand with `wg`. Each daemon runs in the foreground
 * in a session of its own (spawn's detached is setsid), so its pid is known for CPU accounting.
 */
async function handPairUp(lab, { bin, prefix, subnet, basePort }) {
  const dir = mkdtempSync(join(tmpdir(), `trellis-bench-${prefix}-`));
  const nodes = ['n1', 'n2'].map((name, i) => {
    const n = lab.node(name);
    const priv = sh('wg', ['genkey']).trim();
    const pub = sh('wg', ['pubkey'], { input: priv }).trim();
    const keyFile = join(dir, `${name}.key`);
    writeFileSync(keyFile, priv + '\n', { mode: 0o600 });
    return { name, ns: n.namespace, iface: `${prefix}${i + 1}`, underlay: n.underlay, overlay: `${subnet}.${i + 1}`, port: basePort + i, pub, keyFile, pid: null };
  });
  const down = () => {
    for (const n of nodes) {
      try { nsx(n.ns, 'ip', ['link', 'del', n.iface]); } catch { /* gone */ }
      if (n.pid !== null) try { process.kill(n.pid, 'SIGKILL'); } catch { /* gone */ }
      rmSync(`/var/run/wireguard/${n.iface}.sock`, { force: true });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const n of nodes) {
      const child = spawn('ip', ['netns', 'exec', n.ns, bin, '-f', n.iface], { detached: true, stdio: 'ignore', env: { ...process.env, LOG_LEVEL: 'error' } });
      child.unref();
      n.pid = child.pid;
    }
    for (const n of nodes) {
      for (let i = 0; !existsSync(`/var/run/wireguard/${n.iface}.sock`); i++) {
        if (i > 100) throw new Error(`${bin} did not create ${n.iface} in ${n.ns}`);
        await sleep(50);
      }
    }
    for (const [a, b] of [[nodes[0], nodes[1]], [nodes[1], nodes[0]]]) {
      nsx(a.ns, 'wg', ['set', a.iface, 'private-key', a.keyFile, 'listen-port', String(a.port), 'peer', b.pub, 'endpoint', `${b.underlay}:${b.port}`, 'allowed-ips', `${b.overlay}/32`]);
      nsx(a.ns, 'ip', ['addr', 'add', `${a.overlay}/24`, 'dev', a.iface]);
      nsx(a.ns, 'ip', ['link', 'set', a.iface, 'mtu', '1420', 'up']);
    }
    await lab.exec('n1', 'ping', ['-c', '2', '-W', '2', nodes[1].overlay]);
  } catch (err) {
    down();
    throw err;
  }
  return { bin, to: nodes[1].overlay, pids: [nodes[0].pid, nodes[1].pid], down };
}

/** iperf runs one iperf3 client n1 → `to` and measures both ends' wireguard-go CPU meanwhile. */
async function iperf(lab, to, streams, pids) {
  const server = spawn('ip', ['netns', 'exec', lab.node('n2').namespace, 'iperf3', '-s', '-1', '-B', to, '-p', String(PORT)], { stdio: 'ignore' });
  await sleep(300);
  try {
    const before = pids.map(cpuSeconds);
    const r = await lab.exec('n1', 'iperf3', ['-c', to, '-p', String(PORT), '-t', String(SECONDS), '-P', String(streams), '-J'], { timeoutMs: (SECONDS + 20) * 1000 });
    const after = pids.map(cpuSeconds);
    if (r.code !== 0) throw new Error(`iperf3 to ${to} failed: ${r.stderr || r.stdout.slice(0, 300)}`);
    const end = JSON.parse(r.stdout).end;
    const gbit = (end.sum_received.bytes * 8) / 1e9;
    return {
      gbitps: end.sum_received.bits_per_second / 1e9,
      cpuPerGbit: { sender: (after[0] - before[0]) / gbit, receiver: (after[1] - before[1]) / gbit },
    };
  } finally {
    server.kill('SIGKILL');
  }
}

/** pairedRatio is the median over rounds of a's throughput over b's in the same round. */
function pairedRatio(a, b) {
  return median(a.map((x, i) => x.gbitps / b[i].gbitps));
}

/** machineTicks reads the CPU time all processes used so far (user, nice, system, irq, softirq, steal), in ticks. */
function machineTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f;
  return { busy: user + nice + system + irq + softirq + steal, steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
}

function summarize(runs) {
  return {
    medianGbitps: round(median(runs.map((r) => r.gbitps)), 3),
    samplesGbitps: runs.map((r) => round(r.gbitps, 3)),
    cpuPerGbitps: {
      sender: round(median(runs.map((r) => r.cpuPerGbit.sender)), 3),
      receiver: round(median(runs.map((r) => r.cpuPerGbit.receiver)), 3),
    },
  };
}

async function measure(lab) {
  const [s1, s2] = [await lab.status('n1'), await lab.status('n2')];
  for (const s of [s1, s2]) {
    const d = s.device;
    if (!d || d.binary !== BUNDLED_TRELLIS_WG || !segmentationOffloadOn(d.offloads)) {
      throw new Error(`${s.node.name} does not run trellis-wg with TUN offloads (device: ${JSON.stringify(d)}); run scripts/setup.sh`);
    }
  }
  const device = { binary: s1.device.binary, version: s1.device.version, commit: s1.device.commit, offloads: s1.device.offloads };
  const devices = {
    trellis: { to: lab.node('n2').addresses.ipv4.split('/')[0], pids: [s1.device.pid, s2.device.pid] },
    hand: await handPairUp(lab, { bin: BUNDLED_TRELLIS_WG, prefix: 'trlbase', subnet: '198.19.250', basePort: 51900 }),
  };
  try {
    devices.upstream = await handPairUp(lab, { bin: BUNDLED_WIREGUARD_GO, prefix: 'trlup', subnet: '198.19.252', basePort: 51920 });
    devices.debian = await handPairUp(lab, { bin: DEBIAN_WIREGUARD_GO, prefix: 'trldeb', subnet: '198.19.251', basePort: 51910 });
    const order = ['trellis', 'hand', 'upstream', 'debian'];
    const runs = { 1: { trellis: [], hand: [], upstream: [], debian: [] }, 4: { trellis: [], hand: [], upstream: [], debian: [] } };
    const before = machineTicks();
    for (let r = 0; r < ROUNDS; r++) {
      for (const streams of r % 2 === 0 ? [1, 4] : [4, 1]) {
        for (const which of r % 2 === 0 ? order : [...order].reverse()) {
          const res = await iperf(lab, devices[which].to, streams, devices[which].pids);
          note(`round ${r + 1}/${ROUNDS}, -P ${streams}, ${which}: ${res.gbitps.toFixed(3)} Gbit/s, CPU s/Gbit sender ${res.cpuPerGbit.sender.toFixed(3)} receiver ${res.cpuPerGbit.receiver.toFixed(3)}`);
          runs[streams][which].push(res);
        }
      }
    }
    const after = machineTicks();
    // The whole machine while the rounds ran: these devices and iperf3, and everyone else's jobs.
    const machine = {
      busyPct: round((100 * (after.busy - before.busy)) / (after.total - before.total), 1),
      stealPct: round((100 * (after.steal - before.steal)) / (after.total - before.total), 2),
    };
    return { device, runs, machine };
  } finally {
    devices.hand.down();
    devices.upstream?.down();
    devices.debian?.down();
  }
}

async function run() {
  const load = loadavg().map((x) => round(x, 2));
  delete process.env.TRELLIS_WIREGUARD_GO; // the agents must pick their default: trellis-wg
  const lab = await Lab.up({ nodes: 2 });
  let measured;
  try {
    measured = await measure(lab);
  } finally {
    await lab.down();
  }
  const machine = { ...measured.machine, loadavgAtStart: load, loadavgAtEnd: loadavg().map((x) => round(x, 2)) };
  return [1, 4].flatMap((streams) => {
    const t = summarize(measured.runs[streams].trellis);
    const h = summarize(measured.runs[streams].hand);
    const u = summarize(measured.runs[streams].upstream);
    const d = summarize(measured.runs[streams].debian);
    const ratio = pairedRatio(measured.runs[streams].trellis, measured.runs[streams].hand);
    const vsDebian = pairedRatio(measured.runs[streams].trellis, measured.runs[streams].debian);
    const wgVsUpstream = pairedRatio(measured.runs[streams].hand, measured.runs[streams].upstream);
    const what = `iperf3 ${streams === 1 ? 'single stream' : '-P 4'}, ${SECONDS}s x ${ROUNDS} rounds, n1 -> n2; CPU per Gbit/s = device CPU seconds per Gbit carried (cores per Gbit/s)`;
    const upstreamBaseline = { what: `upstream wireguard-go (${BUNDLED_WIREGUARD_GO}, the commit trellis-wg links), a pair configured by hand with wg, each daemon in its own session`, ...u };
    return [
      {
        name: streams === 1 ? 'throughput' : 'throughput-p4',
        what,
        trellis: { ...t, device: measured.device },
        baseline: {
          what: 'the same trellis-wg binary, a pair configured by hand with wg, each daemon in its own session like the agents',
          ...h,
        },
        upstream: upstreamBaseline,
        debian: { what: `Debian's ${DEBIAN_WIREGUARD_GO} (0.0.20220316), a pair configured by hand the same way`, ...d },
        ratio: round(ratio, 3),
        ratioVsUpstream: round(pairedRatio(measured.runs[streams].trellis, measured.runs[streams].upstream), 3),
        ratioVsDebian: round(vsDebian, 2),
        ratioMeaning: "median over rounds of Trellis's Gbit/s over the other device's in the same round",
        ratioOfMedians: { hand: round(t.medianGbitps / h.medianGbitps, 3), upstream: round(t.medianGbitps / u.medianGbitps, 3), debian: round(t.medianGbitps / d.medianGbitps, 2) },
        schedAutogroup: autogroupSetting(),
        machine,
        goal: 'ratio >= 0.95 (vs hand-configured), >= 4x Debian',
        met: ratio >= 0.95 && vsDebian >= 4,
      },
      {
        name: streams === 1 ? 'trellis-wg-vs-upstream' : 'trellis-wg-vs-upstream-p4',
        what: `${what}; both pairs configured by hand, identical but for the binary`,
        trellis: { what: `trellis-wg (${BUNDLED_TRELLIS_WG})`, ...h },
        baseline: upstreamBaseline,
        ratio: round(wgVsUpstream, 3),
        ratioMeaning: "median over rounds of trellis-wg's Gbit/s over upstream wireguard-go's in the same round",
        ratioOfMedians: round(h.medianGbitps / u.medianGbitps, 3),
        schedAutogroup: autogroupSetting(),
        machine,
        goal: 'ratio >= 0.95',
        met: wgVsUpstream >= 0.95,
      },
    ];
  });
}

module.exports = { run };
if (require.main === module) run().then((r) => console.log(JSON.stringify(r, null, 2)), (e) => { console.error(e); process.exit(1); });
