'use strict';
/**
 * relay: what a Trellis relay (`trellis-wg relay`, the keyless WireGuard forwarder) costs a pair.
 * Three namespaces: nodes A and B, each with a link to relay R and a direct link to each other.
 * Two trellis-wg pairs run side by side in A and B, identical but for their endpoints: one pair
 * talks over the direct link, the other through R's relay port (its nodes registered at R with
 * authenticated disco pings from their WireGuard sockets, the pair on R's allow-list, end to end
 * encrypted). Each round measures both, in alternating order:
 * - relay-rtt: ping over each tunnel (400 pings, 5 ms apart); added RTT = median relayed minus
 *   median direct in the same round (goal <= 1 ms);
 * - relay-throughput: iperf3 single stream over each tunnel; ratio = relayed over direct in the
 *   same round (goal >= 0.5), with the relay's CPU per Gbit/s carried.
 * Figures are medians over rounds. NetBird's relay carried ~10 % of direct in one report (#6021).
 */
const { execFile, execFileSync, spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { existsSync, readFileSync, rmSync } = require('node:fs');
const { loadavg } = require('node:os');
const { join } = require('node:path');
const { median, percentile, round } = require('./stats');

const dist = (p) => require(join(__dirname, '..', 'core', 'dist', ...p.split('/')));
const { UapiDevice } = dist('wg/uapi-device.js');
const { setLinkUp, syncAddresses, syncRoutes } = dist('wg/link.js');
const { DeviceDatagramChannel } = dist('wg/device-datagram-channel.js');
const { RelayProcess } = dist('wg/relay-process.js');
const { BUNDLED_TRELLIS_WG, nodeRelayControlSocketPath } = dist('wg/trellis-wg.js');
const { DiscoType, discoPairKey, openDisco, sealDisco } = dist('disco/index.js');
const { generateWgKeyPair } = dist('auth/keys.js');

const ROUNDS = Number(process.env.TRELLIS_BENCH_RELAY_ROUNDS ?? 5);
const SECONDS = Number(process.env.TRELLIS_BENCH_RELAY_SECONDS ?? 5);
const PINGS = 400;
const RELAY_PORT = 3479;
const IPERF_PORT = 5301;
const NS = { a: 'trlb-rla', b: 'trlb-rlb', r: 'trlb-rlr' };
const LINK = {
  ar: { a: '198.18.221.2', r: '198.18.221.1', va: 'trlb-var', vr: 'trlb-vra' },
  br: { b: '198.18.222.2', r: '198.18.222.1', vb: 'trlb-vbr', vr: 'trlb-vrb' },
  ab: { a: '198.18.223.1', b: '198.18.223.2', va: 'trlb-vab', vb: 'trlb-vba' },
};
const RELAY_CTL = nodeRelayControlSocketPath('trlbrelay');

const sh = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const nsx = (ns, cmd, args) => sh('ip', ['netns', 'exec', ns, cmd, ...args]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const note = (msg) => process.stderr.write(`bench: ${msg}\n`);
const CLK_TCK = Number(sh('getconf', ['CLK_TCK']).trim());

function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

function teardownNetwork() {
  for (const ns of Object.values(NS)) {
    try {
      for (const pid of sh('ip', ['netns', 'pids', ns]).split('\n').map(Number).filter((p) => p > 0)) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      }
    } catch { /* no such namespace */ }
    try { sh('ip', ['netns', 'del', ns]); } catch { /* gone */ }
  }
  for (const f of ['trlbd1', 'trlbd2', 'trlbr1', 'trlbr2']) {
    rmSync(`/var/run/wireguard/${f}.sock`, { force: true });
    rmSync(`/var/run/wireguard/${f}.ctl`, { force: true });
  }
  rmSync(RELAY_CTL, { force: true });
}

function setupNetwork() {
  for (const ns of Object.values(NS)) {
    sh('ip', ['netns', 'add', ns]);
    nsx(ns, 'ip', ['link', 'set', 'lo', 'up']);
  }
  nsx(NS.r, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=0']);
  const veth = (nsx1, v1, a1, nsx2, v2, a2) => {
    sh('ip', ['link', 'add', v1, 'netns', nsx1, 'type', 'veth', 'peer', 'name', v2, 'netns', nsx2]);
    nsx(nsx1, 'ip', ['addr', 'add', `${a1}/24`, 'dev', v1]);
    nsx(nsx2, 'ip', ['addr', 'add', `${a2}/24`, 'dev', v2]);
    nsx(nsx1, 'ip', ['link', 'set', v1, 'up']);
    nsx(nsx2, 'ip', ['link', 'set', v2, 'up']);
  };
  veth(NS.a, LINK.ar.va, LINK.ar.a, NS.r, LINK.ar.vr, LINK.ar.r);
  veth(NS.b, LINK.br.vb, LINK.br.b, NS.r, LINK.br.vr, LINK.br.r);
  veth(NS.a, LINK.ab.va, LINK.ab.a, NS.b, LINK.ab.vb, LINK.ab.b);
}

/**
 * pairUp starts one trellis-wg pair in A and B: interfaces <prefix>1/<prefix>2, overlay
 * <subnet>.1/.2, ports basePort/basePort+1, each peer's endpoint from `endpointOf`.
 */
async function pairUp({ prefix, subnet, basePort, endpointOf }) {
  const keys = [generateWgKeyPair(), generateWgKeyPair()];
  const nodes = ['a', 'b'].map((side, i) => ({
    side,
    ns: NS[side],
    dev: new UapiDevice({ name: `${prefix}${i + 1}`, netns: NS[side], wireguardGo: BUNDLED_TRELLIS_WG }),
    key: keys[i],
    port: basePort + i,
    overlay: `${subnet}.${i + 1}`,
  }));
  for (const [n, o] of [[nodes[0], nodes[1]], [nodes[1], nodes[0]]]) {
    await n.dev.up();
    await n.dev.reconfigure({ privateKey: n.key.privateKey, listenPort: n.port, peers: [{ publicKey: o.key.publicKey, endpoint: endpointOf(n, o), allowedIps: [`${o.overlay}/32`] }] }, null);
    await setLinkUp(n.dev.name, 1420, { netns: n.ns });
    await syncAddresses(n.dev.name, [`${n.overlay}/32`], { netns: n.ns });
    await syncRoutes(n.dev.name, [`${o.overlay}/32`], { netns: n.ns });
    n.channel = await DeviceDatagramChannel.connect(n.dev.controlSocketPath);
  }
  return {
    nodes,
    to: nodes[1].overlay,
    pids: nodes.map((n) => n.dev.pid),
    async down() {
      for (const n of nodes) {
        n.channel?.close();
        await n.dev.down().catch(() => undefined);
      }
    },
  };
}

/** registerAtRelay sends each node's authenticated disco ping to the relay from its WireGuard socket and waits for the pongs. */
async function registerAtRelay(pair, relayKey) {
  await Promise.all(
    pair.nodes.map(async (n) => {
      const txId = randomBytes(12);
      const k = discoPairKey(n.key.privateKey, relayKey.publicKey);
      const ping = sealDisco({ type: DiscoType.PING, sender: n.key.publicKey, receiver: relayKey.publicKey, txId, timestampUs: BigInt(Date.now()) * 1000n, body: Buffer.alloc(0) }, k);
      const pong = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no pong from the relay for ${n.side}`)), 2000);
        n.channel.on('datagram', function onDatagram(d) {
          const m = d.kind === 'disco' ? openDisco(d.payload, k) : null;
          if (!m?.ok || m.message.type !== DiscoType.PONG || !m.message.txId.equals(txId)) return;
          clearTimeout(timer);
          n.channel.off('datagram', onDatagram);
          resolve();
        });
      });
      await n.channel.send(`${n.side === 'a' ? LINK.ar.r : LINK.br.r}:${RELAY_PORT}`, ping);
      await pong;
    }),
  );
}

/** pingRtts pings `to` from A and returns each reply's RTT in ms. */
function pingRtts(to) {
  return new Promise((resolve, reject) =>
    execFile('ip', ['netns', 'exec', NS.a, 'ping', '-n', '-c', String(PINGS), '-i', '0.005', '-W', '1', to], { timeout: 60_000 }, (err, stdout) => {
      const rtts = [...String(stdout).matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
      if (rtts.length < PINGS * 0.95) reject(new Error(`ping ${to}: ${rtts.length}/${PINGS} replies (${err ? err.message : 'no error'})`));
      else resolve(rtts);
    }),
  );
}

/** iperf runs a single iperf3 stream A → to, with the CPU time of the given pids meanwhile. */
async function iperf(to, pids) {
  const server = spawn('ip', ['netns', 'exec', NS.b, 'iperf3', '-s', '-1', '-B', to, '-p', String(IPERF_PORT)], { stdio: 'ignore' });
  await sleep(300);
  try {
    const before = pids.map(cpuSeconds);
    const out = nsx(NS.a, 'iperf3', ['-c', to, '-p', String(IPERF_PORT), '-t', String(SECONDS), '-J']);
    const after = pids.map(cpuSeconds);
    const end = JSON.parse(out).end;
    const gbit = (end.sum_received.bytes * 8) / 1e9;
    return { gbitps: end.sum_received.bits_per_second / 1e9, cpuPerGbit: pids.map((_, i) => (after[i] - before[i]) / gbit) };
  } finally {
    server.kill('SIGKILL');
  }
}

async function measure() {
  const relayKey = generateWgKeyPair();
  const relay = await RelayProcess.start({ port: RELAY_PORT, controlSocket: RELAY_CTL, netns: NS.r });
  const direct = await pairUp({ prefix: 'trlbd', subnet: '198.19.240', basePort: 51940, endpointOf: (_n, o) => `${LINK.ab[o.side]}:${o.port}` });
  let relayed;
  try {
    relayed = await pairUp({ prefix: 'trlbr', subnet: '198.19.241', basePort: 51950, endpointOf: (n) => `${n.side === 'a' ? LINK.ar.r : LINK.br.r}:${RELAY_PORT}` });
    await relay.control.configure({ privateKey: relayKey.privateKey, pairs: [[relayed.nodes[0].key.publicKey, relayed.nodes[1].key.publicKey]] });
    await registerAtRelay(relayed, relayKey);
    // Warm both tunnels (handshakes) and check the relayed one really crosses the relay.
    await pingRtts(direct.to);
    await pingRtts(relayed.to);
    const info = await relay.control.info();
    if (info.counters.forwardedPackets < PINGS * 2) throw new Error(`the relayed pair's pings did not cross the relay (forwarded ${info.counters.forwardedPackets})`);

    const rounds = [];
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? ['direct', 'relayed'] : ['relayed', 'direct'];
      const round_ = {};
      for (const mode of order) {
        await registerAtRelay(relayed, relayKey); // keeps the relay's view of the nodes fresh
        const pair = mode === 'direct' ? direct : relayed;
        const rtts = await pingRtts(pair.to);
        const tput = await iperf(pair.to, mode === 'direct' ? pair.pids : [...pair.pids, relay.pid]);
        round_[mode] = { rttMedianMs: median(rtts), rttP95Ms: percentile(rtts, 95), ...tput };
      }
      note(`relay round ${r + 1}/${ROUNDS}: direct ${round(round_.direct.rttMedianMs, 3)} ms ${round(round_.direct.gbitps, 2)} Gbit/s, relayed ${round(round_.relayed.rttMedianMs, 3)} ms ${round(round_.relayed.gbitps, 2)} Gbit/s`);
      rounds.push(round_);
    }
    const after = await relay.control.info();
    return { rounds, relayCounters: after.counters };
  } finally {
    await relayed?.down();
    await direct.down();
    await relay.stop();
  }
}

async function run() {
  const load = loadavg().map((x) => round(x, 2));
  if (!existsSync(BUNDLED_TRELLIS_WG)) throw new Error(`${BUNDLED_TRELLIS_WG} is not installed; run scripts/setup.sh`);
  teardownNetwork();
  setupNetwork();
  let m;
  try {
    m = await measure();
  } finally {
    teardownNetwork();
  }
  const machine = { loadavgAtStart: load, loadavgAtEnd: loadavg().map((x) => round(x, 2)), cores: require('node:os').cpus().length };
  const added = m.rounds.map((r) => r.relayed.rttMedianMs - r.direct.rttMedianMs);
  const ratios = m.rounds.map((r) => r.relayed.gbitps / r.direct.gbitps);
  const addedMs = median(added);
  const ratio = median(ratios);
  const topology = 'nodes A and B each linked to relay R and to each other (veth); two trellis-wg pairs side by side, one direct, one through R';
  return [
    {
      name: 'relay-rtt',
      what: `ping over the tunnel, ${PINGS} pings 5 ms apart, ${ROUNDS} rounds; ${topology}`,
      trellis: { relayedMedianMs: round(median(m.rounds.map((r) => r.relayed.rttMedianMs)), 3), relayedP95Ms: round(median(m.rounds.map((r) => r.relayed.rttP95Ms)), 3), addedMs: round(addedMs, 3), samplesAddedMs: added.map((x) => round(x, 3)) },
      baseline: { what: 'the same pair over the direct link', medianMs: round(median(m.rounds.map((r) => r.direct.rttMedianMs)), 3), p95Ms: round(median(m.rounds.map((r) => r.direct.rttP95Ms)), 3) },
      ratio: round(addedMs, 3),
      ratioMeaning: 'median over rounds of (relayed median RTT - direct median RTT) in the same round, ms',
      machine,
      goal: 'added RTT <= 1 ms',
      met: addedMs <= 1,
    },
    {
      name: 'relay-throughput',
      what: `iperf3 single stream A -> B over the tunnel, ${SECONDS}s x ${ROUNDS} rounds; ${topology}`,
      trellis: {
        medianGbitps: round(median(m.rounds.map((r) => r.relayed.gbitps)), 3),
        samplesGbitps: m.rounds.map((r) => round(r.relayed.gbitps, 3)),
        relayCpuPerGbitps: round(median(m.rounds.map((r) => r.relayed.cpuPerGbit[2])), 3),
      },
      baseline: { what: 'the same pair over the direct link', medianGbitps: round(median(m.rounds.map((r) => r.direct.gbitps)), 3), samplesGbitps: m.rounds.map((r) => round(r.direct.gbitps, 3)) },
      ratio: round(ratio, 3),
      ratioMeaning: 'median over rounds of relayed Gbit/s over direct Gbit/s in the same round',
      relayCounters: { forwardedPackets: m.relayCounters.forwardedPackets, drops: Object.fromEntries(Object.entries(m.relayCounters.drops).filter(([, n]) => n > 0)) },
      anchors: "NetBird's relay carried ~10 % of direct throughput in one report (netbird #6021)",
      machine,
      goal: 'ratio >= 0.5',
      met: ratio >= 0.5,
    },
  ];
}

module.exports = { run };
