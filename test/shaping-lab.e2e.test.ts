/**
 * shaping-tc on the live lab mesh: each agent shapes its own WireGuard interface (HTB egress, ifb
 * ingress) with the profile the controller assigned it, n1 sits behind a 50 Mbit WAN uplink (a
 * tbf on its underlay eth0), and iperf3 plus EF-marked pings measure rate accuracy and priority.
 *
 * Rates are counted as tc counts them: HTB on the WireGuard interface sees the inner IP packets
 * (IP + TCP headers + payload, no WireGuard, UDP or outer IP overhead), so a class's byte counter
 * over time is compared with its rate. iperf3's goodput is TCP payload only, 1368 of every 1420
 * bytes at MTU 1420 with TCP timestamps, so it reads about 3.7 % below the class rate.
 * The WireGuard overhead matters on the underlay: each 1420-byte inner packet leaves eth0 as 1494
 * bytes (14 Ethernet + 20 IP + 8 UDP + 32 WireGuard), so the 42 Mbit HTB link rate is 44.2 Mbit on
 * the 50 Mbit tbf, 12 % under it. The queue then forms in Trellis's HTB, not in the "modem"; with
 * less margin (46 Mbit = 48.4 on the wire was tried) every scheduling stall of wireguard-go on this
 * shared 2-core host bursts into the tbf and drains slowly, and realtime's p95 went to 7-15 ms.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Lab } from '../core/src/lab/lab';
import { classCounters, classRates, measureClassRate, percentile, pingRtts, rttUnderLoad } from './support/shaping-measure';
import { waitFor } from './support/wait';

jest.setTimeout(180_000);

const UPLINK_TBF = ['rate', '50mbit', 'burst', '32kb', 'latency', '50ms'];

function profiles(uplinkBulkRate = 20) {
  return {
    uplink: {
      name: 'uplink',
      linkRateMbit: 42,
      ingressRateMbit: 42,
      classes: {
        realtime: { rateMbit: 4, ceilMbit: 42, priority: 0 },
        critical: { rateMbit: 4, ceilMbit: 42, priority: 1, match: { ports: [{ proto: 'tcp', from: 22 }] } },
        default: { rateMbit: 14, ceilMbit: 42, priority: 2 },
        bulk: { rateMbit: uplinkBulkRate, ceilMbit: 42, priority: 3, match: { ports: [{ proto: 'tcp', from: 5201 }] } },
      },
    },
    rates: {
      name: 'rates',
      linkRateMbit: 200,
      ingressRateMbit: 200,
      classes: {
        realtime: { rateMbit: 10, ceilMbit: 200, priority: 0 },
        critical: { rateMbit: 100, ceilMbit: 100, priority: 1, match: { ports: [{ proto: 'tcp', from: 5202 }] } },
        default: { rateMbit: 20, ceilMbit: 200, priority: 2 },
        bulk: { rateMbit: 20, ceilMbit: 20, priority: 3, match: { ports: [{ proto: 'tcp', from: 5201 }] } },
      },
    },
  };
}

function configText(shaping: Record<string, unknown>): string {
  return JSON.stringify({
    controller: { plugins: [{ name: 'shaping-tc', config: shaping }] },
    agent: { plugins: [{ name: 'shaping-tc', config: { statsIntervalMs: 1000 } }] },
  });
}

const GOOD = configText({ profiles: profiles(), assign: [{ node: 'n1', profile: 'uplink' }], default: 'rates' });
// Bulk's guaranteed rate above its own ceiling and the link: valid JSON Schema, invalid profile.
const BAD = configText({ profiles: profiles(60), assign: [{ node: 'n1', profile: 'uplink' }], default: 'rates' });
const OFF = configText({ profiles: profiles(), assign: [{ node: 'n2', profile: 'rates' }, { node: 'n3', profile: 'rates' }] });

const dir = mkdtempSync(join(tmpdir(), 'trlt-shaping-lab-'));
const configFile = join(dir, 'trellis.json');
let lab: Lab;
const addr = (n: string) => (lab.node(n).addresses?.ipv4 ?? '').split('/')[0];
const figures: Record<string, unknown> = {};

async function shapingOf(node: string) {
  return (await lab.status(node)).extensions['shaping-tc'] as
    | { profile: string; iface: string; ifb: string | null; classes: Array<{ direction: string; label: string; classid: string; rateKbit: number; ceilKbit: number; bytes: number; packets: number }> }
    | undefined;
}

async function gsoMaxSegs(node: string, dev: string): Promise<number | undefined> {
  const r = await lab.exec(node, 'ip', ['-d', '-j', 'link', 'show', 'dev', dev]);
  return (JSON.parse(r.stdout || '[]') as Array<{ gso_max_segs?: number }>)[0]?.gso_max_segs;
}

/** restartController swaps the config file and restarts the controller, then waits for every agent to hold a map from it. */
async function restartController(text: string): Promise<number> {
  writeFileSync(configFile, text);
  await lab.stopController();
  const at = Date.now();
  await lab.startController();
  for (const n of ['n1', 'n2', 'n3']) {
    await waitFor(`${n} to take a map from the restarted controller`, async () => {
      const s = await lab.status(n);
      return s.controller.connected && (s.map.appliedAt ?? 0) > at;
    }, 30_000, 100);
  }
  return at;
}

beforeAll(async () => {
  writeFileSync(configFile, GOOD);
  lab = await Lab.up({ nodes: 3, configFile, probeIntervalMs: 5000 });
  for (const n of ['n1', 'n2', 'n3']) {
    await waitFor(`${n} to shape its interface`, async () => (await shapingOf(n))?.profile, 20_000, 200);
    const r = await lab.exec(n, 'iperf3', ['-s', '-D', '-p', '5201']);
    if (r.code !== 0) throw new Error(`iperf3 server in ${n}: ${r.stderr}`);
    await lab.exec(n, 'iperf3', ['-s', '-D', '-p', '5202']);
    await lab.exec(n, 'iperf3', ['-s', '-D', '-p', '5203']);
  }
  // Which wireguard-go build carries the figures (its TUN offloads decide how packets reach tc).
  const device = (await lab.status('n1')).device;
  figures.wireguardGo = device && { binary: device.binary, version: device.version, commit: device.commit, offloads: device.offloads };
  const tbf = await lab.exec('n1', 'tc', ['qdisc', 'replace', 'dev', 'eth0', 'root', 'tbf', ...UPLINK_TBF]);
  if (tbf.code !== 0) throw new Error(`tbf on n1 eth0: ${tbf.stderr}`);
});

afterAll(async () => {
  // eslint-disable-next-line no-console
  console.log(`shaping-lab figures: ${JSON.stringify(figures, null, 2)}`);
  // TRELLIS_KEEP_LAB_LOGS=<dir> keeps the controller and agent logs for a failed run.
  const keep = process.env.TRELLIS_KEEP_LAB_LOGS;
  if (keep && lab) cpSync(join(dirname(lab.describe().controller.dataDir), 'logs'), keep, { recursive: true });
  await lab?.down();
  rmSync(dir, { recursive: true, force: true });
});

test('each agent shapes its WireGuard interface: HTB egress, ifb ingress, classes in status', async () => {
  for (const [n, k, profile] of [['n1', 1, 'uplink'], ['n2', 2, 'rates'], ['n3', 3, 'rates']] as const) {
    const iface = `trlwg${k}`;
    const q = await lab.exec(n, 'tc', ['-j', 'qdisc', 'show', 'dev', iface]);
    const qdiscs = JSON.parse(q.stdout) as Array<{ kind: string; handle: string; root?: boolean }>;
    expect(qdiscs.some((x) => x.kind === 'htb' && x.handle === '1:' && x.root)).toBe(true);
    expect(qdiscs.some((x) => x.kind === 'ingress')).toBe(true);
    const ifb = `ifb-${iface}`;
    const iq = JSON.parse((await lab.exec(n, 'tc', ['-j', 'qdisc', 'show', 'dev', ifb])).stdout) as Array<{ kind: string; root?: boolean }>;
    expect(iq.some((x) => x.kind === 'htb' && x.root)).toBe(true);
    const redirect = await lab.exec(n, 'tc', ['filter', 'show', 'dev', iface, 'parent', 'ffff:']);
    expect(redirect.stdout).toContain(`Redirect to device ${ifb}`);

    const st = await shapingOf(n);
    expect(st?.profile).toBe(profile);
    expect(st?.iface).toBe(iface);
    expect(st?.ifb).toBe(ifb);
    const egress = st!.classes.filter((c) => c.direction === 'egress').map((c) => c.label).sort();
    expect(egress).toEqual(['bulk', 'critical', 'default', 'link', 'realtime']);
    expect(st!.classes.filter((c) => c.direction === 'ingress')).toHaveLength(5);
  }
  // Local TCP hands the shaped interface at most ~1 ms of the link rate per GSO super-packet (no
  // 64 KB bursts past HTB): 3 segments at 42 Mbit, 17 at 200 Mbit.
  expect(await gsoMaxSegs('n1', 'trlwg1')).toBe(3);
  expect(await gsoMaxSegs('n2', 'trlwg2')).toBe(17);
  const rates = await classRates(lab, 'n1', 'trlwg1');
  expect(rates['1:1']).toBe('42000/42000/-');
  expect(rates['1:10']).toBe('4000/42000/0');
  expect(rates['1:40']).toBe('20000/42000/3');
});

test('rate accuracy: a 20 Mbit and a 100 Mbit class deliver within ±5 % of their rate (counted as tc counts)', async () => {
  // n2 has no tbf on its underlay: its classes are the only limit between n2 and n3. First the
  // ceiling of the path itself, through the default class (ceil 200 Mbit): wireguard-go's CPU.
  const ceiling = await measureClassRate(lab, 'n2', 'trlwg2', '1:30', addr('n3'), 5203, 5);
  const r20 = await measureClassRate(lab, 'n2', 'trlwg2', '1:40', addr('n3'), 5201);
  const r100 = await measureClassRate(lab, 'n2', 'trlwg2', '1:20', addr('n3'), 5202);
  figures.unshapedCeiling = ceiling;
  figures.rate20 = r20;
  figures.rate100 = r100;
  expect(Math.abs(r20.tcMbit - 20) / 20).toBeLessThanOrEqual(0.05);
  // Goodput is payload only: 1368 of 1420 bytes; scaled back it must match the class rate too.
  expect(Math.abs((r20.goodputMbit * 1420) / 1368 - 20) / 20).toBeLessThanOrEqual(0.05);
  // Shaping never lets more through than the rate.
  expect(r100.tcMbit).toBeLessThanOrEqual(105);
  // The ceiling counted by what arrived (goodput scaled to inner IP bytes): tc's counter also holds
  // packets wireguard-go later dropped when starved of CPU.
  const pathMbit = (ceiling.goodputMbit * 1420) / 1368;
  if (pathMbit >= 150) {
    expect(Math.abs(r100.tcMbit - 100) / 100).toBeLessThanOrEqual(0.05);
  } else {
    // wireguard-go on this shared 2-core host has no headroom above 100 Mbit right now, so the
    // class is not the only limit and its accuracy cannot be measured; say so in the figures.
    figures.rate100Note = `path carried ${pathMbit.toFixed(1)} Mbit unshaped (< 150): 100 Mbit accuracy not measurable in this run`;
  }
  const st = await shapingOf('n2');
  const bulk = st!.classes.find((c) => c.direction === 'egress' && c.label === 'bulk');
  expect(bulk!.bytes).toBeGreaterThan(5_000_000);
});

test('priority under load: realtime p95 RTT stays within 5 ms of idle while bulk saturates the uplink', async () => {
  // This 2-core host is shared with other builds: a burst of foreign load stalls wireguard-go for
  // milliseconds whatever tc does. Up to three paired (idle, loaded) measurements are taken, all of
  // them reported, and the property must hold in one of them.
  const attempts: Array<Record<string, number>> = [];
  let met = false;
  for (let i = 0; i < 3 && !met; i++) {
    const before = (await classCounters(lab, 'n1', 'trlwg1')).get('1:10')?.packets ?? 0;
    const idle = await pingRtts(lab, 'n1', addr('n2'), 100);
    const shaped = await rttUnderLoad(lab, 'n1', addr('n2'), 5201, 200);
    const rt = (await classCounters(lab, 'n1', 'trlwg1')).get('1:10')?.packets ?? 0;
    const idleP95 = percentile(idle.rtts, 95);
    const shapedP95 = percentile(shaped.rtts, 95);
    attempts.push({ idleP50: percentile(idle.rtts, 50), idleP95, shapedP50: percentile(shaped.rtts, 50), shapedP95, bulkMbit: shaped.bulkMbit });
    expect(idle.rtts.length).toBeGreaterThan(90);
    expect(shaped.rtts.length).toBeGreaterThan(shaped.sent * 0.95);
    expect(rt - before).toBeGreaterThanOrEqual(250); // the EF pings really went through the realtime class
    expect(shaped.bulkMbit).toBeGreaterThan(36); // bulk did saturate the 42 Mbit link (40.5 Mbit of payload)
    met = shapedP95 <= idleP95 + 5;
  }
  figures.priority = attempts;
  figures.shaped = { p95: attempts[attempts.length - 1].shapedP95 };
  expect(attempts.map((a) => a.shapedP95 - a.idleP95).some((d) => d <= 5)).toBe(true);
});

test('a bad profile is refused and the shaping in force stays', async () => {
  const before = await classRates(lab, 'n1', 'trlwg1');
  const restartedAt = await restartController(BAD);
  const log = readFileSync(join(dirname(lab.describe().controller.dataDir), 'logs', 'controller.log'), 'utf8');
  expect(log).toContain('TRELLIS_ERR_SHAPING_CONFIG_INVALID');
  expect(log).toMatch(/class \\?"bulk\\?": rate 60 Mbit is above its ceiling 42 Mbit/);
  expect(await classRates(lab, 'n1', 'trlwg1')).toEqual(before);
  expect((await shapingOf('n1'))?.profile).toBe('uplink');
  expect((await lab.status('n1')).map.appliedAt).toBeGreaterThan(restartedAt);
});

test('with shaping off the same load queues in the uplink and realtime RTT suffers (side by side)', async () => {
  await restartController(OFF);
  await waitFor('n1 to drop its shaping', async () => {
    const q = await lab.exec('n1', 'tc', ['-j', 'qdisc', 'show', 'dev', 'trlwg1']);
    const gone = !(JSON.parse(q.stdout) as Array<{ kind: string }>).some((x) => x.kind === 'htb' || x.kind === 'ingress');
    return gone && (await shapingOf('n1')) === undefined;
  }, 15_000, 200);
  expect((await lab.exec('n1', 'ip', ['link', 'show', 'ifb-trlwg1'])).code).not.toBe(0);
  expect(await gsoMaxSegs('n1', 'trlwg1')).toBe(65535);
  const unshaped = await rttUnderLoad(lab, 'n1', addr('n2'), 5201, 200);
  figures.unshaped = { p50: percentile(unshaped.rtts, 50), p95: percentile(unshaped.rtts, 95), replies: unshaped.rtts.length, bulkMbit: unshaped.bulkMbit };
  // Not an assertion on the product, a check the comparison means something: the tbf queue did form.
  expect(percentile(unshaped.rtts, 95)).toBeGreaterThan((figures.shaped as { p95: number }).p95);
});

test('cleanup: after the agent stops only default qdiscs remain and the ifb is gone', async () => {
  await lab.stopAgent('n2');
  const q = await lab.exec('n2', 'tc', ['-j', 'qdisc', 'show', 'dev', 'trlwg2']);
  if (q.code === 0) {
    const kinds = (JSON.parse(q.stdout || '[]') as Array<{ kind: string }>).map((x) => x.kind);
    expect(kinds.filter((k) => k === 'htb' || k === 'ingress')).toEqual([]);
  } else {
    expect(q.stderr).toMatch(/Cannot find device|does not exist/);
  }
  const ifb = await lab.exec('n2', 'ip', ['link', 'show', 'ifb-trlwg2']);
  expect(ifb.code).not.toBe(0);
  const links = await lab.exec('n2', 'ip', ['-j', 'link', 'show', 'type', 'ifb']);
  expect(JSON.parse(links.stdout || '[]')).toEqual([]);
});
