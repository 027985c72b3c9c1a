'use strict';
/**
 * Map-delta cost: applying a one-peer change on an agent whose device already has 1,000 peers.
 * Trellis: applyMapResponse → toWgConfig → UapiDevice.reconfigure(next, prev) (writes only the diff).
 * Baseline: the naive way, `wg setconf` rewriting all 1,000 peers for the same change.
 * A second result, config-diff-1000: the pure step alone (diffWgConfig + the UAPI request it
 * serialises, no device) beside the request of a full 1,000-peer write.
 */
const { execFileSync } = require('node:child_process');
const { writeFileSync, mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { median, percentile, round } = require('./stats');
const core = (p) => require(join(__dirname, '..', 'core', 'dist', p));

const NS = 'trlb-delta';
const IFACE = 'trlbdelta';
const PEERS = 1000;
const ROUNDS = 40;

function sh(cmd, args) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
function cleanup() {
  try { sh('ip', ['netns', 'del', NS]); } catch { /* not there */ }
  try { sh('rm', ['-f', `/var/run/wireguard/${IFACE}.sock`]); } catch { /* not there */ }
}

function peer(i, keys) {
  const a = 70 + Math.floor(i / 250);
  const b = i % 250;
  return {
    id: `p${String(i).padStart(5, '0')}`,
    name: `peer${i}`,
    wgKey: keys[i],
    addresses: { ipv4: `100.${a}.0.${b + 1}`, ipv6: `fd7a:7e11:5000::${(i + 10).toString(16)}` },
    endpoints: [`198.19.${Math.floor(i / 200)}.${(i % 200) + 1}:51820`],
    allowedIps: [`100.${a}.0.${b + 1}/32`, `fd7a:7e11:5000::${(i + 10).toString(16)}/128`],
    tags: [],
    user: null,
    online: true,
    lastSeen: null,
  };
}

async function run() {
  const { generateWgKeyPair } = core('auth/keys.js');
  const { UapiDevice } = core('wg/uapi-device.js');
  const { diffWgConfig } = core('wg/config-diff.js');
  const { serializeSet, setFromDiff } = core('wg/uapi.js');
  const { toWgConfig } = core('agent/to-wg-config.js');
  const { diffMaps, applyMapResponse } = core('netmap/delta.js');
  const { DEFAULT_PREFS } = core('agent/prefs.js');
  cleanup();
  sh('ip', ['netns', 'add', NS]);
  const dir = mkdtempSync(join(tmpdir(), 'trellis-bench-delta-'));
  const device = new UapiDevice({ name: IFACE, netns: NS });
  try {
    await device.up();
    const self = generateWgKeyPair();
    const keys = Array.from({ length: PEERS }, () => generateWgKeyPair().publicKey);
    const selfNode = { ...peer(PEERS, [...keys, self.publicKey]), expiresAt: null };
    let map = {
      version: 1,
      epoch: 'bench',
      self: selfNode,
      peers: keys.map((_, i) => peer(i, keys)),
      packetFilter: null,
      routes: [],
      extensions: {},
      overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:7e11:5000::/48' },
    };
    const prefs = DEFAULT_PREFS;
    let written = toWgConfig(map, prefs, self.privateKey, 51820);
    await device.reconfigure(written, null);

    const trellisMs = [];
    const baselineMs = [];
    const diffMs = [];
    const fullRequestMs = [];
    const conf = join(dir, 'wg.conf');
    for (let r = 0; r < ROUNDS; r++) {
      // The controller's delta: one peer moved to a new endpoint and gained a subnet route.
      const i = (r * 37) % PEERS;
      const changed = { ...map.peers[i], endpoints: [`198.20.${r % 250}.1:51820`], allowedIps: [...peer(i, keys).allowedIps, `10.${r % 250}.0.0/24`] };
      const next = { ...map, version: map.version + 1, peers: map.peers.map((p, k) => (k === i ? changed : p)) };
      const delta = diffMaps(map, next);

      const t0 = process.hrtime.bigint();
      const applied = applyMapResponse(map, delta);
      const cfg = toWgConfig(applied, prefs, self.privateKey, 51820);
      const res = await device.reconfigure(cfg, written);
      trellisMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (res.added + res.updated + res.removed !== 1) throw new Error(`expected a one-peer write, got ${res.summary}`);
      // The pure step alone: the one-peer UAPI request, and the request of a full write.
      const d0 = process.hrtime.bigint();
      const request = serializeSet(setFromDiff(diffWgConfig(written, cfg)));
      diffMs.push(Number(process.hrtime.bigint() - d0) / 1e6);
      if (request.match(/^public_key=/gm).length !== 1) throw new Error('expected a one-peer UAPI request');
      const f0 = process.hrtime.bigint();
      serializeSet({ ...setFromDiff(diffWgConfig({ ...cfg, peers: [] }, cfg)), replacePeers: true });
      fullRequestMs.push(Number(process.hrtime.bigint() - f0) / 1e6);
      map = applied;
      written = cfg;

      // Baseline: the same change applied by rewriting the whole config with `wg setconf`.
      const lines = ['[Interface]', `PrivateKey = ${self.privateKey}`, 'ListenPort = 51820', ''];
      for (const p of cfg.peers) {
        lines.push('[Peer]', `PublicKey = ${p.publicKey}`, `AllowedIPs = ${p.allowedIps.join(', ')}`);
        if (p.endpoint) lines.push(`Endpoint = ${p.endpoint}`);
        lines.push(`PersistentKeepalive = ${p.persistentKeepalive ?? 0}`, '');
      }
      const b0 = process.hrtime.bigint();
      writeFileSync(conf, lines.join('\n'), { mode: 0o600 });
      sh('ip', ['netns', 'exec', NS, 'wg', 'setconf', IFACE, conf]);
      baselineMs.push(Number(process.hrtime.bigint() - b0) / 1e6);
    }
    const t = median(trellisMs);
    const b = median(baselineMs);
    const dp = median(diffMs);
    const fp = median(fullRequestMs);
    return [
      {
        name: 'map-delta',
        peers: PEERS,
        rounds: ROUNDS,
        trellis: { p50Ms: round(t), p95Ms: round(percentile(trellisMs, 95)) },
        baseline: { what: 'wg setconf of the full 1,000-peer config', p50Ms: round(b), p95Ms: round(percentile(baselineMs, 95)) },
        ratio: round(b / t, 2),
        ratioMeaning: 'baseline time / trellis time (higher is better for trellis)',
        goal: 'trellis p50 <= 5 ms',
        met: t <= 5,
      },
      {
        // The figure config-diff.test.ts used to assert with a wall clock (flaky under load).
        name: 'config-diff-1000',
        peers: PEERS,
        rounds: ROUNDS,
        what: 'diffWgConfig + UAPI request of the one-peer change (no device)',
        trellis: { p50Ms: round(dp), p95Ms: round(percentile(diffMs, 95)) },
        baseline: { what: 'UAPI request of a full 1,000-peer write (replace_peers)', p50Ms: round(fp), p95Ms: round(percentile(fullRequestMs, 95)) },
        ratio: round(fp / dp, 2),
        ratioMeaning: 'full-write request time / one-peer diff time (higher is better for trellis)',
        goal: 'p50 <= 5 ms',
        met: dp <= 5,
      },
    ];
  } finally {
    await device.down().catch(() => {});
    cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { run };
if (require.main === module) run().then((r) => console.log(JSON.stringify(r, null, 2)), (e) => { console.error(e); process.exit(1); });
