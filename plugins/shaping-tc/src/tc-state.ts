/**
 * tc-state: what tc reports about one device, parsed into plain values the diff can compare.
 * iproute2 6.1 prints `tc -j class show` for HTB as text, and `tc -j filter show` for u32 with a
 * repeated "match" key per key; both are handled here.
 */
import { shapingErrors } from './errors';

/** One 32-bit u32 key: (packet word at `off` & mask) == value. */
export interface U32Key {
  value: number;
  mask: number;
  off: number;
}

export interface TcQdiscState {
  kind: string;
  handle: string;
  /** "root", "ingress", or the parent class id. */
  parent: string;
  options: Record<string, unknown>;
}

export interface TcClassState {
  classid: string;
  /** Parent class id, or "root" for a class directly under the qdisc. */
  parent: string;
  rateKbit: number;
  ceilKbit: number;
  /** Shown by HTB for leaf classes only. */
  prio: number | null;
}

export interface TcClassStats {
  classid: string;
  bytes: number;
  packets: number;
  drops: number;
  overlimits: number;
  backlogBytes: number;
  backlogPackets: number;
}

export interface TcFilterState {
  parent: string;
  protocol: string;
  pref: number;
  kind: string;
  /** u32 filter handle such as 800::801 (what `tc filter del ... handle` needs). */
  handle: string;
  flowid: string | null;
  keys: U32Key[];
  /** Device a mirred redirect action sends to, when there is one. */
  redirectTo: string | null;
}

export interface DeviceState {
  dev: string;
  qdiscs: TcQdiscState[];
  classes: TcClassState[];
  filters: TcFilterState[];
}

const RATE_UNITS: Record<string, number> = { bit: 1e-3, kbit: 1, mbit: 1e3, gbit: 1e6, tbit: 1e9, bps: 8e-3, kbps: 8, mbps: 8e3, gbps: 8e6 };

/** parseRateKbit reads tc's rate text ("20Mbit", "1500Kbit", "800bit") as kbit/s. */
export function parseRateKbit(text: string): number {
  const m = /^([\d.]+)([A-Za-z]+)$/.exec(text.trim());
  const unit = m ? RATE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) throw shapingErrors.tcOutput('tc class show', `unknown rate "${text}"`);
  return Number(m[1]) * unit;
}

function parseJsonArray(cmd: string, text: string): Array<Record<string, unknown>> {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  try {
    const parsed = JSON.parse(trimmed) as unknown;
    if (!Array.isArray(parsed)) throw new Error('not a JSON array');
    return parsed as Array<Record<string, unknown>>;
  } catch (err) {
    throw shapingErrors.tcOutput(cmd, (err as Error).message);
  }
}

/** parseQdiscs reads `tc -j qdisc show dev X`. */
export function parseQdiscs(text: string): TcQdiscState[] {
  return parseJsonArray('tc -j qdisc show', text).map((q) => ({
    kind: String(q.kind),
    handle: String(q.handle),
    parent: q.root === true ? 'root' : q.kind === 'ingress' || q.kind === 'clsact' ? 'ingress' : String(q.parent ?? ''),
    options: (q.options as Record<string, unknown>) ?? {},
  }));
}

/**
 * parseClasses reads `tc -j [-s] class show dev X`: JSON where iproute2 prints it, otherwise the
 * text form ("class htb 1:10 parent 1:1 prio 0 rate 20Mbit ceil 50Mbit ..." plus stats lines).
 */
export function parseClasses(text: string): { classes: TcClassState[]; stats: TcClassStats[] } {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) return parseClassesJson(trimmed);
  const classes: TcClassState[] = [];
  const stats: TcClassStats[] = [];
  let current: TcClassStats | null = null;
  for (const line of trimmed.split('\n')) {
    const head = /^class (\S+) (\S+) (?:root|parent (\S+))(.*)$/.exec(line.trim());
    if (head) {
      const rest = head[4];
      const rate = /\brate (\S+)/.exec(rest);
      const ceil = /\bceil (\S+)/.exec(rest);
      const prio = /\bprio (\d+)/.exec(rest);
      const rateKbit = rate ? parseRateKbit(rate[1]) : 0;
      classes.push({
        classid: head[2],
        parent: head[3] ?? 'root',
        rateKbit,
        ceilKbit: ceil ? parseRateKbit(ceil[1]) : rateKbit,
        prio: prio ? Number(prio[1]) : null,
      });
      current = { classid: head[2], bytes: 0, packets: 0, drops: 0, overlimits: 0, backlogBytes: 0, backlogPackets: 0 };
      continue;
    }
    if (!current) continue;
    const sent = /Sent (\d+) bytes (\d+) pkt \(dropped (\d+), overlimits (\d+)/.exec(line);
    if (sent) {
      current.bytes = Number(sent[1]);
      current.packets = Number(sent[2]);
      current.drops = Number(sent[3]);
      current.overlimits = Number(sent[4]);
      stats.push(current);
    }
    const backlog = /backlog (\d+)([KMG]?)b (\d+)p/.exec(line);
    if (backlog) {
      const scale = { '': 1, K: 1e3, M: 1e6, G: 1e9 }[backlog[2]] ?? 1;
      current.backlogBytes = Number(backlog[1]) * scale;
      current.backlogPackets = Number(backlog[3]);
    }
  }
  return { classes, stats };
}

function parseClassesJson(text: string): { classes: TcClassState[]; stats: TcClassStats[] } {
  const rows = parseJsonArray('tc -j class show', text);
  const num = (v: unknown) => (typeof v === 'number' ? v : 0);
  const classes = rows.map((c) => {
    // iproute2 prints JSON rates in bytes per second.
    const rateKbit = (num(c.rate) * 8) / 1000;
    return {
      classid: String(c.handle),
      parent: typeof c.parent === 'string' ? c.parent : 'root',
      rateKbit,
      ceilKbit: c.ceil !== undefined ? (num(c.ceil) * 8) / 1000 : rateKbit,
      prio: typeof c.prio === 'number' ? c.prio : null,
    };
  });
  const stats = rows
    .filter((c) => c.bytes !== undefined)
    .map((c) => ({
      classid: String(c.handle),
      bytes: num(c.bytes),
      packets: num(c.packets),
      drops: num(c.drops),
      overlimits: num(c.overlimits),
      backlogBytes: num(c.backlog),
      backlogPackets: num(c.qlen),
    }));
  return { classes, stats };
}

/**
 * parseFilters reads `tc -j filter show dev X [parent P]`. Only real u32 filters (handle h::n) are
 * kept; hash-table and prio header rows are skipped. Repeated "match" keys are renamed before
 * JSON.parse so no key is lost.
 */
export function parseFilters(text: string): TcFilterState[] {
  let n = 0;
  const deduped = text.replace(/"match":/g, () => `"match#${n++}":`);
  const out: TcFilterState[] = [];
  for (const f of parseJsonArray('tc -j filter show', deduped)) {
    const o = f.options as Record<string, unknown> | undefined;
    const handle = typeof o?.fh === 'string' ? o.fh : typeof o?.handle === 'string' ? o.handle : null;
    if (!o || !handle || (f.kind === 'u32' && !/^[0-9a-f]+:[0-9a-f]*:[0-9a-f]+$/.test(handle))) continue;
    const keys: U32Key[] = [];
    for (const [k, v] of Object.entries(o)) {
      if (!k.startsWith('match#')) continue;
      const m = v as Record<string, unknown>;
      keys.push(normalizeKey({ value: parseInt(String(m.value), 16), mask: parseInt(String(m.mask), 16), off: Number(m.off) }));
    }
    const actions = (o.actions as Array<Record<string, unknown>> | undefined) ?? [];
    const mirred = actions.find((a) => a.kind === 'mirred');
    out.push({
      parent: typeof f.parent === 'string' ? f.parent : 'ffff:',
      protocol: String(f.protocol),
      pref: Number(f.pref),
      kind: String(f.kind),
      handle,
      flowid: typeof o.flowid === 'string' ? o.flowid : typeof o.classid === 'string' ? o.classid : null,
      keys: sortKeys(keys),
      redirectTo: mirred && typeof mirred.to_dev === 'string' ? mirred.to_dev : null,
    });
  }
  return out;
}

export function normalizeKey(k: U32Key): U32Key {
  const mask = k.mask >>> 0;
  return { value: (k.value & mask) >>> 0, mask, off: k.off };
}

export function sortKeys(keys: U32Key[]): U32Key[] {
  return [...keys].map(normalizeKey).sort((a, b) => a.off - b.off || a.mask - b.mask || a.value - b.value);
}

/** keysId is a stable text form of a key set, for comparing filters. */
export function keysId(keys: U32Key[]): string {
  return sortKeys(keys)
    .map((k) => `${k.off}:${k.value.toString(16)}/${k.mask.toString(16)}`)
    .join(',');
}
