/**
 * Loss describes the tunnel, not its start, on real wireguard-go in network namespaces: a freshly
 * formed 5-node mesh shows 0.0 % on every pair from the first peer table on (and twenty seconds
 * later, and in the controller's live figures the console reads), while a real loss, an nft rule
 * dropping a fifth of the probes between two nodes, shows within seconds and goes away with it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_PROBE_PORT } from '../core/src/agent/start-options';
import type { AgentStatus } from '../core/src/wire';
import { formatLoss } from '../core/src/text/human-format';
import { renderPeerTable } from '../core/src/cli/status-view';
import { ROUTES } from '../core/src/wire';
import { Lab } from '../core/src/lab/lab';
import { watchTunnels } from '../core/src/lab/tunnel-watch';
import { waitFor } from './support/wait';

jest.setTimeout(240_000);

const NODES = ['n1', 'n2', 'n3', 'n4', 'n5'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** lossTable is every ordered pair's LOSS cell as `trellis status` prints it, e.g. { "n1>n2": "0.0%" }. */
function lossTable(statuses: Map<string, AgentStatus>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [from, s] of statuses) for (const p of s.peers) out[`${from}>${p.name}`] = p.probe ? formatLoss(p.probe.loss) : '-';
  return out;
}

async function statusAll(lab: Lab): Promise<Map<string, AgentStatus>> {
  return new Map(await Promise.all(NODES.map(async (n) => [n, await lab.status(n)] as const)));
}

function allPairs(value: string): Record<string, string> {
  return Object.fromEntries(NODES.flatMap((a) => NODES.filter((b) => b !== a).map((b) => [`${a}>${b}`, value])));
}

describe('a freshly formed 5-node lab (default 1 s probes)', () => {
  let lab: Lab | null = null;
  let first: Map<string, AgentStatus>;
  let firstAt: number;

  beforeAll(async () => {
    lab = await Lab.up({ nodes: NODES.length, waitForMesh: false });
    // As `trellis lab demo` does: wait for every pair's handshake and first probe RTT, then show the tables.
    first = await watchTunnels(lab, () => undefined, { timeoutMs: 90_000 });
    firstAt = Date.now();
  });

  afterAll(async () => {
    await lab?.down();
  });

  test('the first peer tables after the tunnels are up show 0.0 % loss for every pair', () => {
    for (const n of NODES) console.log(`${n}\n${renderPeerTable(first.get(n)!, firstAt, '  ')}`);
    expect(lossTable(first)).toEqual(allPairs('0.0%'));
    for (const s of first.values()) for (const p of s.peers) expect(p.probe!.received).toBeGreaterThanOrEqual(1);
  });

  test('twenty seconds later every pair still shows 0.0 %, and the console reads every tunnel as up with no loss', async () => {
    const seen: string[] = [];
    // Every 4 s up to twenty seconds after the first tables.
    for (let t = 0; t < 5; t++) {
      await sleep(Math.max(0, firstAt + 4000 * (t + 1) - Date.now()));
      const table = lossTable(await statusAll(lab!));
      seen.push(`+${Math.round((Date.now() - firstAt) / 1000)}s: ${[...new Set(Object.values(table))].join(', ')}`);
      expect(table).toEqual(allPairs('0.0%'));
    }
    console.log(`loss cells over time: ${seen.join(' | ')}`);
    // The controller's live figures (fed by the same probe rows ClickHouse gets) and the console's tunnel states.
    const live = (await (await lab!.adminFetch(ROUTES.adminTelemetryLive)).json()) as { paths: Array<{ src: string; dst: string; loss: number | null }> };
    const lossByPair = Object.fromEntries(live.paths.map((p) => [`${p.src}>${p.dst}`, p.loss]));
    expect(lossByPair).toEqual(Object.fromEntries(Object.keys(allPairs('')).map((k) => [k, 0])));
    const token = readFileSync(join(lab!.describe().controller.dataDir, 'admin.token'), 'utf8').trim();
    const login = await lab!.controllerFetch('/console/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
      redirect: 'manual',
    });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const snap = (await (await lab!.controllerFetch('/console/api/snapshot', { headers: { cookie } })).json()) as {
      paths: Array<{ src: string; dst: string; state: string }>;
    };
    expect(Object.fromEntries(snap.paths.map((p) => [`${p.src}>${p.dst}`, p.state]))).toEqual(allPairs('up'));
  });
});

describe('real loss on a 5-node lab probing every 100 ms', () => {
  let lab: Lab | null = null;
  const TABLE = 'trellis_losstest';

  beforeAll(async () => {
    lab = await Lab.up({ nodes: NODES.length, probeIntervalMs: 100 });
    await watchTunnels(lab, () => undefined, { timeoutMs: 90_000 });
  });

  afterAll(async () => {
    await lab?.down();
  });

  const lossOf = async (from: string, to: string): Promise<number | null> =>
    (await lab!.status(from)).peers.find((p) => p.name === to)?.probe?.loss ?? null;

  /** nft runs an nft script in a node's namespace and fails the test on an nft error. */
  const nft = async (node: string, script: string): Promise<void> => {
    const r = await lab!.exec(node, 'nft', ['-f', '-'], { input: script });
    if (r.code !== 0) throw new Error(`nft in ${node} failed (${r.code}): ${r.stderr}`);
  };

  test('a mesh at 100 ms probes also starts at 0.0 %', async () => {
    expect(lossTable(await statusAll(lab!))).toEqual(allPairs('0.0%'));
  });

  test('an nft rule dropping 20 % of the probes between n1 and n2 shows as ≈ 20 % loss within seconds; removing it brings loss back down', async () => {
    const n1 = lab!.node('n1').addresses!.ipv4.split('/')[0]!;
    // On n2's input: a fifth of n1's pings to n2, and of n1's pongs to n2's pings, are dropped.
    await nft(
      'n2',
      `table inet ${TABLE} {\n  chain input {\n    type filter hook input priority -50; policy accept;\n` +
        `    ip saddr ${n1} udp dport ${DEFAULT_PROBE_PORT} numgen random mod 5 == 0 counter drop\n  }\n}\n`,
    );
    const added = Date.now();
    const { value: inBand, ms } = await waitFor(
      'n1 → n2 loss in 8..35 %',
      async () => {
        const l = await lossOf('n1', 'n2');
        return l !== null && l >= 0.08 && l <= 0.35 ? l : null;
      },
      20_000,
      250,
    );
    console.log(`n1 → n2 loss ${(inBand * 100).toFixed(1)} % after ${(ms / 1000).toFixed(1)} s of a 20 % drop`);
    // Once the 60-probe window (6 s at 100 ms) holds only probes sent under the rule, the figure stays in the band.
    await sleep(Math.max(0, 7000 - (Date.now() - added)));
    const figures: number[] = [];
    for (let i = 0; i < 6; i++) {
      figures.push((await lossOf('n1', 'n2'))!, (await lossOf('n2', 'n1'))!);
      await sleep(1000);
    }
    console.log(`n1 ↔ n2 loss under the rule: ${figures.map((f) => (f * 100).toFixed(1)).join(' ')} %`);
    for (const f of figures) {
      expect(f).toBeGreaterThanOrEqual(0.08);
      expect(f).toBeLessThanOrEqual(0.35);
    }
    const counter = await lab!.exec('n2', 'nft', ['list', 'table', 'inet', TABLE]);
    expect(counter.stdout).toMatch(/counter packets [1-9]\d* /); // the rule really dropped packets
    // Pairs without the rule keep 0.0 %.
    expect(formatLoss(await lossOf('n1', 'n3'))).toBe('0.0%');
    expect(formatLoss(await lossOf('n3', 'n2'))).toBe('0.0%');

    await nft('n2', `delete table inet ${TABLE}\n`);
    const { ms: back } = await waitFor('n1 → n2 loss back to 0.0 %', async () => formatLoss(await lossOf('n1', 'n2')) === '0.0%', 20_000, 250);
    console.log(`n1 → n2 loss back to 0.0 % ${(back / 1000).toFixed(1)} s after the rule was removed`);
  });

  test('a tunnel that stops answering altogether shows 100 % loss, not "no data"', async () => {
    await nft('n3', `table inet ${TABLE} {\n  chain input {\n    type filter hook input priority -50; policy accept;\n    udp dport ${DEFAULT_PROBE_PORT} drop\n  }\n}\n`);
    try {
      const { ms } = await waitFor('n1 → n3 loss 100 %', async () => (await lossOf('n1', 'n3')) === 1, 20_000, 250);
      console.log(`n1 → n3 loss 100 % ${(ms / 1000).toFixed(1)} s after n3 stopped answering`);
    } finally {
      await nft('n3', `delete table inet ${TABLE}\n`);
    }
  });
});
