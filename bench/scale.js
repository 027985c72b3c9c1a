'use strict';
/**
 * scale: simulated agents against real controllers (issue 14). No namespaces and no WireGuard: each
 * simulated node has its own Ed25519 identity and X25519 key, enrolls through the real API (signed
 * proof of possession), holds the real signed SSE map stream and applies every response with
 * applyMapResponse, as an agent does. The controllers are `trellis controller` processes with
 * posture-opa and a generated policy: nodes in cells of CELL (tag:cell-k sees tag:cell-k), and one
 * hub every node may reach, so one change to the hub reaches all nodes.
 *
 * Figures, for one controller on SQLite (the baseline) and for two controllers sharing one
 * PostgreSQL (streams split between them, every change made through the first): enrolment
 * throughput, fan-out of one hub endpoint change to every node (p50/p95 from the change's request
 * to each node having applied it; goal p95 <= 1 s), the controllers' RSS and CPU. Ratios are the
 * two-controller figures over the baseline's, from the same run.
 *
 * Beside the end-to-end fan-out, each round records where the time went: how long the change's
 * request took, the first node's arrival, and the controllers' own batch times, scraped from
 * metrics-prometheus: trellis_map_{change,build}_duration_seconds (applying the batch) and
 * trellis_map_fanout_duration_seconds (until its last response was handed to the sockets); the
 * 25 ms batch window comes before both.
 *
 * The simulated agents read their streams with node:http and core's SseParser (sim "http", the
 * default): each still signs its stream request, parses every response and verifies and applies it
 * with applyMapResponse (epoch and base version must match). TRELLIS_BENCH_SCALE_SIM=agent reads
 * them through the agent's ControllerClient.streamMap (undici fetch and web streams), which costs
 * the one simulator process several times more CPU per event than the controller's send.
 *
 * TRELLIS_BENCH_SCALE_NODES sets the node count (default 10000); TRELLIS_BENCH_SCALE_SCENARIOS=sqlite
 * runs only the one-controller scenario (a short run; the result is not written as the suite's).
 */
const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } = require('node:fs');
const { createServer } = require('node:net');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { median, percentile, round } = require('./stats');
const { policyDir } = require('./policy');

const ROOT = join(__dirname, '..');
const core = (p) => require(join(ROOT, 'core', 'dist', p));
/** TRELLIS_BENCH_SCALE_CONTROLLER_CLI runs another controller build (a before/after comparison of a change). */
const CLI = process.env.TRELLIS_BENCH_SCALE_CONTROLLER_CLI ?? join(ROOT, 'core', 'dist', 'cli', 'main.js');
const CELL = 50;
const ROUNDS = 7;
const ENROLL_CONCURRENCY = 16;
const STREAM_CONCURRENCY = 200;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * httpStream yields the events of a node's signed map stream, read with node:http (one connection
 * per stream) and core's SseParser; ends when the server closes it or signal aborts.
 */
async function* httpStream(node, pathAndQuery, signal) {
  const http = require('node:http');
  const { signRequest } = core('auth/signing.js');
  const { SseParser } = core('agent/sse-parser.js');
  const { MAP_FEATURES_HEADER, MAP_FEATURE_FILTER_PATCH } = core('wire/index.js');
  const headers = { ...signRequest(node.identityKey, node.id, 'GET', pathAndQuery, ''), [MAP_FEATURES_HEADER]: MAP_FEATURE_FILTER_PATCH };
  const res = await new Promise((resolve, reject) => {
    const req = http.get(node.controller.url + pathAndQuery, { headers, agent: false, signal }, resolve);
    req.on('error', reject);
  });
  if (res.statusCode !== 200) {
    res.resume();
    throw new Error(`map stream answered ${res.statusCode}`);
  }
  const parser = new SseParser();
  // Events are handed over as they arrive; a queue keeps them when the consumer is behind.
  let queue = [];
  let wake = null;
  let done = false;
  let failure = null;
  res.on('data', (chunk) => {
    for (const ev of parser.push(chunk)) queue.push(ev);
    if (wake) wake();
  });
  res.on('end', () => {
    done = true;
    if (wake) wake();
  });
  res.on('error', (err) => {
    failure = err;
    done = true;
    if (wake) wake();
  });
  try {
    for (;;) {
      if (queue.length > 0) {
        const evs = queue;
        queue = [];
        for (const ev of evs) yield ev;
        continue;
      }
      if (failure) throw failure;
      if (done) return;
      await new Promise((r) => (wake = r));
      wake = null;
    }
  } finally {
    res.destroy();
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** cpuMs is a process's user+system CPU time so far, ms (from /proc/<pid>/stat). */
function cpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const parts = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return ((Number(parts[11]) + Number(parts[12])) * 1000) / 100;
}

/** rssMb is a process's resident set, MiB. */
function rssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? round(Number(m[1]) / 1024, 1) : null;
}

/**
 * rawKeyPair makes a key pair in the form core/src/auth/keys.ts gives (base64 of the raw 32-byte
 * halves), from the DER encodings: exporting thousands of OKP keys as JWK in one process, as that
 * module does once per node, hangs Node 20.20 in a futex wait after a few thousand keys.
 */
function rawKeyPair(type) {
  const { generateKeyPairSync } = require('node:crypto');
  const { privateKey, publicKey } = generateKeyPairSync(type);
  return {
    privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32).toString('base64'),
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64'),
  };
}

/** The generated policy: cells of CELL nodes that see each other, and one hub every node reaches. */
async function compileBundle(cells) {
  const { compilePolicies } = require(join(ROOT, 'plugins', 'posture-opa', 'dist', 'index.js'));
  const rules = Array.from({ length: cells }, (_, k) => ({ name: `cell-${k}`, src: [`tag:cell-${k}`], dst: [`tag:cell-${k}`], proto: 'any', ports: ['*'] }));
  rules.push({ name: 'hub', src: ['*'], dst: ['tag:hub'], proto: 'any', ports: ['*'] });
  const dir = policyDir({ groups: {}, rules, quarantine: { tags: ['tag:quarantine'], remediation: ['tag:remediation'] } });
  const { bundlePath } = await compilePolicies(dir, { outFile: join(dir, 'bundle.tgz') });
  return { dir, bundlePath };
}

/** Controllers running now: a bench stopped by a signal stops them too. */
const running = new Set();

async function startController(work, name, port, configFile, env) {
  const dataDir = join(work, name);
  const log = join(work, `${name}.log`);
  const fd = openSync(log, 'a');
  const child = spawn(process.execPath, [CLI, 'controller', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--config', configFile], {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, TRELLIS_LOG_LEVEL: 'warn', ...env },
  });
  closeSync(fd);
  running.add(child);
  child.once('exit', () => running.delete(child));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`controller ${name} exited (${child.exitCode}); see ${log}`);
    try {
      if ((await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })).ok) break;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`controller ${name} did not answer within 60 s; see ${log}`);
    await sleep(100);
  }
  return { name, url, dataDir, child, pid: child.pid, log };
}

async function stopController(c) {
  if (c.child.exitCode !== null) return;
  c.child.kill('SIGTERM');
  const t = setTimeout(() => c.child.kill('SIGKILL'), 20_000);
  await new Promise((r) => c.child.once('exit', r));
  clearTimeout(t);
}

async function pool(items, concurrency, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

/**
 * scenario runs one setup: `controllers` controllers on `store` (undefined: SQLite), n simulated
 * nodes, and returns its figures.
 */
/**
 * mapBatchSeconds: a controller's summed map batch times so far, from its /metrics: apply (map
 * changes and builds) and fan-out (apply and send until the last stream was handed its response;
 * absent, null, from controllers before trellis_map_fanout_duration_seconds).
 */
async function mapBatchSeconds(c) {
  const text = await (await fetch(c.metricsUrl, { signal: AbortSignal.timeout(5000) })).text();
  const out = { apply: 0, batches: 0, fanout: null };
  for (const m of text.matchAll(/^trellis_map_(change|build|fanout)_duration_seconds_(sum|count)(?:\{[^}]*\})? ([0-9.e+-]+)$/gm)) {
    const v = Number(m[3]);
    if (m[1] === 'fanout') {
      if (m[2] === 'sum') out.fanout = (out.fanout ?? 0) + v;
    } else if (m[2] === 'sum') out.apply += v;
    else out.batches += v;
  }
  return out;
}

async function scenario(label, n, controllersCount, store, bundlePath) {
  const { ControllerClient } = core('agent/controller-client.js');
  const { ed25519PrivateKey } = core('auth/keys.js');
  const { applyMapResponse } = core('netmap/delta.js');
  const { ROUTES } = core('wire/index.js');
  const { AdminClient } = core('client/admin-client.js');

  const work = mkdtempSync(join(tmpdir(), `trellis-bench-scale-${label}-`));
  const controllers = [];
  // Every character class present, so the entropy check never refuses a rare draw.
  const token = `Tr1-${randomBytes(32).toString('base64url')}`;
  const sim = process.env.TRELLIS_BENCH_SCALE_SIM ?? 'http';
  if (sim !== 'http' && sim !== 'agent') throw new Error(`TRELLIS_BENCH_SCALE_SIM must be http or agent, got ${sim}`);
  const streams = [];
  try {
    const env = store ? { TRELLIS_STORE: store } : {};
    for (let i = 0; i < controllersCount; i++) {
      const name = `controller-${i + 1}`;
      const dataDir = join(work, name);
      require('node:fs').mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      writeFileSync(join(dataDir, 'admin.token'), `${token}\n`, { mode: 0o600 });
      // One signing key for the shared audit chain, as an operator would copy it.
      if (i > 0) for (const f of ['signing.key', 'signing.pub']) copyFileSync(join(controllers[0].dataDir, f), join(dataDir, f));
      const metricsPort = await freePort();
      const config = {
        controller: {
          plugins: [
            { name: 'posture-opa', config: { bundle: bundlePath } },
            { name: 'metrics-prometheus', config: { listen: `127.0.0.1:${metricsPort}` } },
          ],
          settings: { limits: { enrollPerMinute: 1_000_000, unauthenticatedPerMinute: 1_000_000, nodeEventsPerMinute: 100_000, maxConnections: 2 * n + 1000 } },
        },
      };
      const configFile = join(work, `${name}.json`);
      writeFileSync(configFile, JSON.stringify(config));
      const c = await startController(work, name, await freePort(), configFile, env);
      c.metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
      controllers.push(c);
    }
    const admin = new AdminClient(controllers[0].url, token);
    const cells = Math.ceil((n - 1) / CELL);
    const keys = [];
    for (let k = 0; k < cells; k++) keys.push((await admin.request('POST', ROUTES.adminKeys, { tags: [`tag:cell-${k}`], reusable: true, ttlSeconds: 86_400 })).key);
    const hubKey = (await admin.request('POST', ROUTES.adminKeys, { tags: ['tag:hub'], reusable: true, ttlSeconds: 86_400 })).key;

    // Keys are made before the clock starts: enrolment measures the controllers, not key generation.
    const nodes = Array.from({ length: n }, (_, i) => ({
      i,
      name: i === 0 ? 'hub' : `sim-${i}`,
      authKey: i === 0 ? hubKey : keys[(i - 1) % cells],
      identity: rawKeyPair('ed25519'),
      wg: rawKeyPair('x25519'),
      controller: controllers[i % controllersCount],
      id: null,
      map: null,
      firstMap: null,
      seen: new Map(),
      applied: 0,
    }));
    const cpu0 = controllers.map((c) => cpuMs(c.pid));
    let enrollRetries = 0;
    const tEnroll = performance.now();
    await pool(nodes, ENROLL_CONCURRENCY, async (node) => {
      const client = new ControllerClient({ url: node.controller.url, timeoutMs: 60_000 });
      const body = { authKey: node.authKey, name: node.name, hostname: node.name, wgKey: node.wg.publicKey, identityKey: node.identity.publicKey, endpoints: [`198.18.${(node.i >> 8) & 255}.${node.i & 255}:41641`] };
      let res;
      // A connection the server closed as it was reused (UND_ERR_SOCKET) is tried again, as an agent
      // retries its enrolment; retries are counted in the result.
      for (let attempt = 1; ; attempt++) {
        try {
          res = await client.enroll(body, ed25519PrivateKey(node.identity));
          break;
        } catch (err) {
          if (attempt >= 3 || !/UND_ERR_SOCKET|ECONNRESET/.test(err.message)) throw err;
          enrollRetries++;
          await sleep(100);
        }
      }
      node.id = res.nodeId;
      node.map = res.map;
      node.identityKey = ed25519PrivateKey(node.identity);
      client.setIdentity(res.nodeId, node.identityKey);
      node.client = client;
    });
    const enrollS = (performance.now() - tEnroll) / 1000;
    const enrollCpuS = controllers.map((c, i) => (cpuMs(c.pid) - cpu0[i]) / 1000);

    // Every node holds its map stream, applying each response as an agent does.
    const hub = nodes[0];
    const abort = new AbortController();
    // One signal ends every stream: it has one listener per open stream by design.
    require('node:events').setMaxListeners(0, abort.signal);
    let connected = 0;
    /** How many nodes other than the hub applied each hub endpoint (the rounds wait on it without scanning every node). */
    const seenBy = new Map();
    const tStreams = performance.now();
    const follow = async (node) => {
      for (;;) {
        try {
          const since = node.map ? node.map.version : null;
          const epoch = node.map ? node.map.epoch : null;
          let events;
          if (sim === 'agent') events = node.client.streamMap(since, epoch, abort.signal);
          else {
            const q = new URLSearchParams();
            if (since !== null) q.set('since', String(since));
            if (epoch !== null) q.set('epoch', epoch);
            const qs = q.toString();
            events = httpStream(node, ROUTES.mapStream + (qs ? `?${qs}` : ''), abort.signal);
          }
          for await (const ev of events) {
            if (ev.event !== 'map') continue;
            node.map = applyMapResponse(node.map, JSON.parse(ev.data));
            node.applied++;
            if (!node.firstMap) {
              node.firstMap = performance.now();
              connected++;
            }
            const h = node.map.peers.find((p) => p.id === hub.id);
            if (h) {
              for (const e of h.endpoints) {
                if (node.seen.has(e)) continue;
                node.seen.set(e, performance.now());
                if (node !== hub) seenBy.set(e, (seenBy.get(e) ?? 0) + 1);
              }
            }
          }
        } catch (err) {
          if (abort.signal.aborted) return;
          node.lastError = err.message;
        }
        if (abort.signal.aborted) return;
        await sleep(250);
      }
    };
    await pool(nodes, STREAM_CONCURRENCY, async (node) => {
      node.map = null; // ask for a full map, as a fresh agent would
      streams.push(follow(node));
      while (!node.firstMap && !abort.signal.aborted) await sleep(5);
    });
    const streamsS = (performance.now() - tStreams) / 1000;
    if (connected !== n) throw new Error(`${label}: only ${connected} of ${n} nodes got a map`);
    // Presence settles (every node came online, which changed its cell peers' maps).
    await sleep(3_000);
    const missingHub = nodes.slice(1).filter((x) => !x.map.peers.some((p) => p.id === hub.id)).length;
    if (missingHub > 0) throw new Error(`${label}: ${missingHub} nodes do not see the hub; the policy did not apply`);
    const peersP50 = median(nodes.map((x) => x.map.peers.length));
    const rssAfterStreams = controllers.map((c) => rssMb(c.pid));

    const rounds = [];
    const all = [];
    const cpuF0 = controllers.map((c) => cpuMs(c.pid));
    const tF = performance.now();
    for (let r = 0; r < ROUNDS; r++) {
      const endpoint = `203.0.113.${r + 1}:${40000 + r}`;
      const batch0 = await Promise.all(controllers.map(mapBatchSeconds));
      const t0 = performance.now();
      await hub.client.postEndpoints([endpoint], null);
      const postMs = performance.now() - t0;
      const deadline = Date.now() + 60_000;
      let lat = [];
      while ((seenBy.get(endpoint) ?? 0) < n - 1 && Date.now() <= deadline) await sleep(10);
      lat = nodes.slice(1).map((x) => x.seen.get(endpoint)).filter((t) => t !== undefined);
      if (lat.length !== n - 1) throw new Error(`${label}: round ${r}: only ${lat.length} of ${n - 1} nodes applied the hub change within 60 s`);
      const ms = lat.map((t) => t - t0);
      all.push(...ms);
      const batch1 = await Promise.all(controllers.map(mapBatchSeconds));
      rounds.push({
        p50Ms: round(median(ms), 1),
        p95Ms: round(percentile(ms, 95), 1),
        maxMs: round(Math.max(...ms), 1),
        firstMs: round(Math.min(...ms), 1),
        postMs: round(postMs, 1),
        // Per controller, in this round: time applying batches (ms), the same until the last stream
        // was handed its response (ms; null before that metric existed), and how many batches ran.
        controllerApplyMs: batch1.map((b, i) => round((b.apply - batch0[i].apply) * 1000, 1)),
        controllerFanoutMs: batch1.map((b, i) => (b.fanout === null || batch0[i].fanout === null ? null : round((b.fanout - batch0[i].fanout) * 1000, 1))),
        controllerBatches: batch1.map((b, i) => b.batches - batch0[i].batches),
      });
      await sleep(500);
    }
    const fanoutWallS = (performance.now() - tF) / 1000;
    const fanoutCpuS = controllers.map((c, i) => (cpuMs(c.pid) - cpuF0[i]) / 1000);
    abort.abort();
    const result = {
      label,
      nodes: n,
      controllers: controllersCount,
      store: store ? 'postgres' : 'sqlite',
      cellSize: CELL,
      peersP50,
      enrollPerS: round(n / enrollS, 1),
      enrollS: round(enrollS, 1),
      enrollRetries,
      enrollCpuS: enrollCpuS.map((x) => round(x, 1)),
      streamsUpS: round(streamsS, 1),
      fanout: {
        p50Ms: round(median(rounds.map((r) => r.p50Ms)), 1),
        p95Ms: round(median(rounds.map((r) => r.p95Ms)), 1),
        allP95Ms: round(percentile(all, 95), 1),
        firstMs: round(median(rounds.map((r) => r.firstMs)), 1),
        postMs: round(median(rounds.map((r) => r.postMs)), 1),
        controllerApplyMs: controllers.map((_, i) => round(median(rounds.map((r) => r.controllerApplyMs[i])), 1)),
        controllerFanoutMs: controllers.map((_, i) => (rounds[0].controllerFanoutMs[i] === null ? null : round(median(rounds.map((r) => r.controllerFanoutMs[i])), 1))),
        rounds,
      },
      sim,
      controllerCli: CLI,
      controllerRssMb: rssAfterStreams,
      controllerCpuDuringFanoutPct: fanoutCpuS.map((x) => round((100 * x) / fanoutWallS, 1)),
    };
    return result;
  } finally {
    for (const c of controllers) await stopController(c).catch(() => undefined);
    await Promise.race([Promise.allSettled(streams), sleep(5_000)]);
    rmSync(work, { recursive: true, force: true });
  }
}

async function run() {
  const n = Number(process.env.TRELLIS_BENCH_SCALE_NODES ?? 10_000);
  if (!Number.isInteger(n) || n < 10) throw new Error(`TRELLIS_BENCH_SCALE_NODES must be a whole number of at least 10, got ${process.env.TRELLIS_BENCH_SCALE_NODES}`);
  const { PostgresCluster } = core('lab/postgres-cluster.js');
  const scenarios = process.env.TRELLIS_BENCH_SCALE_SCENARIOS ?? 'sqlite,postgres';
  if (scenarios !== 'sqlite' && scenarios !== 'sqlite,postgres') throw new Error(`TRELLIS_BENCH_SCALE_SCENARIOS must be sqlite or sqlite,postgres, got ${scenarios}`);
  const { dir, bundlePath } = await compileBundle(Math.ceil((n - 1) / CELL));
  let pg = null;
  try {
    process.stderr.write(`bench scale: ${n} simulated nodes, one controller on SQLite...\n`);
    const base = await scenario('sqlite-1', n, 1, undefined, bundlePath);
    process.stderr.write(`bench scale: ${JSON.stringify({ ...base, fanout: { ...base.fanout, rounds: undefined } })}\n`);
    if (scenarios === 'sqlite') {
      return [{ name: `scale-${n}-sqlite-only`, nodes: n, trellis: null, baseline: null, goal: 'fan-out p95 <= 1000 ms to every node', met: base.fanout.p95Ms <= 1000, detail: { baseline: base } }];
    }
    pg = await PostgresCluster.start({ durable: true });
    const url = await pg.createDatabase('trellis');
    process.stderr.write(`bench scale: ${n} simulated nodes, two controllers on PostgreSQL...\n`);
    const ha = await scenario('postgres-2', n, 2, url, bundlePath);
    process.stderr.write(`bench scale: ${JSON.stringify({ ...ha, fanout: { ...ha.fanout, rounds: undefined } })}\n`);
    const pick = (r) => ({ enrollPerS: r.enrollPerS, fanoutP50Ms: r.fanout.p50Ms, fanoutP95Ms: r.fanout.p95Ms, rssMb: r.controllerRssMb, cpuPct: r.controllerCpuDuringFanoutPct });
    return [
      {
        name: `scale-${n}`,
        nodes: n,
        trellis: { what: `two controllers on PostgreSQL, ${n} simulated agents split between them, changes through the first`, ...pick(ha) },
        baseline: { what: `one controller on SQLite, the same ${n} simulated agents`, ...pick(base) },
        // The headline ratio (the run table's column): two controllers' fan-out p95 over one's.
        ratio: round(ha.fanout.p95Ms / base.fanout.p95Ms, 2),
        ratios: {
          enrollPerS: round(ha.enrollPerS / base.enrollPerS, 2),
          fanoutP95: round(ha.fanout.p95Ms / base.fanout.p95Ms, 2),
          rssTotal: round(ha.controllerRssMb.reduce((a, b) => a + b, 0) / base.controllerRssMb[0], 2),
        },
        goal: 'fan-out p95 <= 1000 ms to every node, on one controller and on two',
        met: base.fanout.p95Ms <= 1000 && ha.fanout.p95Ms <= 1000,
        detail: { baseline: base, trellis: ha },
        machine: '2 cores, shared; the simulator runs beside the controllers',
      },
    ];
  } finally {
    await pg?.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { run };

if (require.main === module) {
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.once(sig, () => {
      for (const child of running) child.kill('SIGKILL');
      process.exit(1);
    });
  }
  run()
    .then((r) => console.log(JSON.stringify(r, null, 2)))
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
