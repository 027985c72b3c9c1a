/**
 * Measuring shaping on the lab: class byte counters as tc counts them, iperf3 runs, and RTT
 * percentiles of EF-marked pings, for the shaping end-to-end tests.
 */
import type { Lab } from '../../core/src/lab/lab';
import { parseClasses } from '../../plugins/shaping-tc/src/tc-state';

export interface ClassCounter {
  classid: string;
  bytes: number;
  packets: number;
  drops: number;
}

async function classText(lab: Lab, node: string, dev: string, stats: boolean): Promise<string> {
  // iproute2 6.1 prints HTB classes as text even with -j; the plugin's parser reads both.
  const r = await lab.exec(node, 'tc', ['-j', ...(stats ? ['-s'] : []), 'class', 'show', 'dev', dev]);
  if (r.code !== 0) throw new Error(`tc class show dev ${dev} in ${node} failed: ${r.stderr}`);
  return r.stdout;
}

/** classCounters reads `tc -s class show` of one device in a node, keyed by class id. */
export async function classCounters(lab: Lab, node: string, dev: string): Promise<Map<string, ClassCounter>> {
  const { stats } = parseClasses(await classText(lab, node, dev, true));
  return new Map(stats.map((c) => [c.classid, { classid: c.classid, bytes: c.bytes, packets: c.packets, drops: c.drops }]));
}

/** classRates is what tc holds for each class: classid → "rate/ceil/prio" in kbit. */
export async function classRates(lab: Lab, node: string, dev: string): Promise<Record<string, string>> {
  const { classes } = parseClasses(await classText(lab, node, dev, false));
  return Object.fromEntries(classes.map((c) => [c.classid, `${c.rateKbit}/${c.ceilKbit}/${c.prio ?? '-'}`]));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ShapedRate {
  /** What HTB let through the class, from its byte counter (inner IP packets), Mbit/s. */
  tcMbit: number;
  /** iperf3's receiver goodput (TCP payload), Mbit/s. */
  goodputMbit: number;
}

/**
 * measureClassRate runs an iperf3 TCP flow `from` → `toAddress:port` and reads the class's byte
 * counter on `dev` over the steady middle of the run (skipping slow start and the tail).
 */
export async function measureClassRate(
  lab: Lab,
  from: string,
  dev: string,
  classid: string,
  toAddress: string,
  port: number,
  seconds = 6,
): Promise<ShapedRate> {
  const flow = lab.exec(from, 'iperf3', ['-c', toAddress, '-p', String(port), '-t', String(seconds), '-O', '1', '-J'], { timeoutMs: (seconds + 15) * 1000 });
  await sleep(1500);
  const a = (await classCounters(lab, from, dev)).get(classid);
  const t0 = process.hrtime.bigint();
  await sleep((seconds - 2.5) * 1000);
  const b = (await classCounters(lab, from, dev)).get(classid);
  const t1 = process.hrtime.bigint();
  const res = await flow;
  if (res.code !== 0) throw new Error(`iperf3 from ${from} to ${toAddress}:${port} failed: ${res.stdout.slice(0, 400)} ${res.stderr}`);
  if (!a || !b) throw new Error(`class ${classid} not found on ${dev} in ${from}`);
  const secs = Number(t1 - t0) / 1e9;
  const report = JSON.parse(res.stdout) as { end: { sum_received: { bits_per_second: number } } };
  return { tcMbit: ((b.bytes - a.bytes) * 8) / secs / 1e6, goodputMbit: report.end.sum_received.bits_per_second / 1e6 };
}

/** pingRtts sends `count` EF-marked (TOS 0xb8) echoes every `intervalMs` and returns each RTT in ms. */
export async function pingRtts(lab: Lab, from: string, toAddress: string, count: number, intervalMs = 20): Promise<{ rtts: number[]; sent: number }> {
  const r = await lab.exec(from, 'ping', ['-Q', '0xb8', '-i', String(intervalMs / 1000), '-c', String(count), '-W', '1', '-n', toAddress], {
    timeoutMs: count * intervalMs + 10_000,
  });
  const rtts = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  return { rtts, sent: count };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((x, y) => x - y);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i];
}

/**
 * rttUnderLoad runs a bulk iperf3 flow `from` → `toAddress:port` and, once it is past slow start,
 * pings with EF for `pings` × 20 ms; it returns the RTTs and the bulk flow's goodput.
 */
export async function rttUnderLoad(lab: Lab, from: string, toAddress: string, port: number, pings = 200): Promise<{ rtts: number[]; sent: number; bulkMbit: number }> {
  const seconds = Math.ceil((pings * 20) / 1000) + 3;
  const flow = lab.exec(from, 'iperf3', ['-c', toAddress, '-p', String(port), '-t', String(seconds), '-J'], { timeoutMs: (seconds + 15) * 1000 });
  await sleep(1500);
  const { rtts, sent } = await pingRtts(lab, from, toAddress, pings);
  const res = await flow;
  if (res.code !== 0) throw new Error(`iperf3 from ${from} to ${toAddress}:${port} failed: ${res.stdout.slice(0, 400)} ${res.stderr}`);
  const report = JSON.parse(res.stdout) as { end: { sum_received: { bits_per_second: number } } };
  return { rtts, sent, bulkMbit: report.end.sum_received.bits_per_second / 1e6 };
}
