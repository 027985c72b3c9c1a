import type { NodeEvent, PluginTelemetryRow, TelemetryBatch, TunnelRow } from '@trellis/core/api';

export interface ProbeSample {
  ts: number;
  rttUs: number | null;
  lost: boolean;
  jitterUs: number;
}

export interface PathSamples {
  src: string;
  dst: string;
  path: string;
  samples: ProbeSample[];
}

export interface NodeState {
  name: string;
  /** null until the first online/offline event this controller run. */
  online: boolean | null;
  /** When the current online/offline state began (controller clock). */
  since: number;
  /** The controller's last posture decision as told by facts events; null when unknown. */
  compliant: boolean | null;
  /** When the node's last telemetry batch arrived (controller clock). */
  lastBatchAt: number | null;
}

export interface ShapingSeries {
  node: string;
  iface: string;
  direction: string;
  class: string;
  samples: Array<{ ts: number; drops: number }>;
}

/** The plugin whose telemetry rows carry tc class counters (node, iface, direction, class, drops, ts). */
export const SHAPING_PLUGIN = 'shaping-tc';

/** The fields of a shaping-tc row the drop rule reads; other rows of that name are left out. */
interface ShapingRow {
  ts: number;
  node: string;
  iface: string;
  direction: string;
  class: string;
  drops: number;
}

function isShapingRow(r: PluginTelemetryRow): r is PluginTelemetryRow & ShapingRow {
  return (
    typeof r.ts === 'number' &&
    typeof r.node === 'string' &&
    typeof r.iface === 'string' &&
    typeof r.direction === 'string' &&
    typeof r.class === 'string' &&
    typeof r.drops === 'number'
  );
}

const key = (...parts: string[]) => parts.join('\u0000');
const MAX_SAMPLES = 20_000;

/**
 * LiveInputs is alerts-live's own memory of the mesh, fed only through hooks: probe, tunnel and
 * shaping rows from onTelemetry, presence and posture from onNodeEvent. Samples older than the
 * longest rule window are dropped, so memory follows the thresholds, not the uptime.
 */
export class LiveInputs {
  readonly paths = new Map<string, PathSamples>();
  readonly tunnels = new Map<string, TunnelRow>();
  readonly nodes = new Map<string, NodeState>();
  readonly shaping = new Map<string, ShapingSeries>();

  constructor(private readonly keepMs: number) {}

  private node(name: string, now: number): NodeState {
    let n = this.nodes.get(name);
    if (!n) this.nodes.set(name, (n = { name, online: null, since: now, compliant: null, lastBatchAt: null }));
    return n;
  }

  addBatch(batch: TelemetryBatch, now: number): void {
    this.node(batch.node, now).lastBatchAt = now;
    for (const p of batch.probes) {
      const k = key(p.src, p.dst, p.path);
      let s = this.paths.get(k);
      if (!s) this.paths.set(k, (s = { src: p.src, dst: p.dst, path: p.path, samples: [] }));
      s.samples.push({ ts: p.ts, rttUs: p.rttUs, lost: p.lost, jitterUs: p.jitterUs });
      if (s.samples.length > MAX_SAMPLES) s.samples.splice(0, s.samples.length - MAX_SAMPLES);
    }
    for (const t of batch.tunnels) {
      const k = key(t.src, t.dst);
      const prev = this.tunnels.get(k);
      if (!prev || t.ts >= prev.ts) this.tunnels.set(k, t);
    }
    for (const r of batch.plugins?.[SHAPING_PLUGIN] ?? []) if (isShapingRow(r)) this.addShaping(r);
    this.prune(now);
  }

  private addShaping(r: ShapingRow): void {
    const k = key(r.node, r.iface, r.direction, r.class);
    let s = this.shaping.get(k);
    if (!s) this.shaping.set(k, (s = { node: r.node, iface: r.iface, direction: r.direction, class: r.class, samples: [] }));
    s.samples.push({ ts: r.ts, drops: r.drops });
    if (s.samples.length > MAX_SAMPLES) s.samples.splice(0, s.samples.length - MAX_SAMPLES);
  }

  nodeEvent(ev: NodeEvent, now: number): void {
    switch (ev.kind) {
      case 'online':
      case 'offline': {
        const n = this.node(ev.nodeName, now);
        const online = ev.kind === 'online';
        if (n.online !== online) {
          n.online = online;
          n.since = ev.at ?? now;
        }
        return;
      }
      case 'enrolled':
        this.node(ev.nodeName, now);
        return;
      case 'facts': {
        const c = ev.details?.compliant;
        if (typeof c === 'boolean') this.node(ev.nodeName, now).compliant = c;
        if (ev.details?.transition === 'quarantined') this.node(ev.nodeName, now).compliant = false;
        if (ev.details?.transition === 'restored') this.node(ev.nodeName, now).compliant = true;
        return;
      }
      case 'revoked':
      case 'expired':
      case 'removed':
        this.forget(ev.nodeName);
        return;
    }
  }

  /** forget drops everything about a node that left the mesh, so its alerts resolve. */
  forget(name: string): void {
    this.nodes.delete(name);
    for (const [k, v] of this.paths) if (v.src === name || v.dst === name) this.paths.delete(k);
    for (const [k, v] of this.tunnels) if (v.src === name || v.dst === name) this.tunnels.delete(k);
    for (const [k, v] of this.shaping) if (v.node === name) this.shaping.delete(k);
  }

  prune(now: number): void {
    const cutoff = now - this.keepMs;
    for (const [k, s] of this.paths) {
      const i = s.samples.findIndex((x) => x.ts >= cutoff);
      if (i === -1) this.paths.delete(k);
      else if (i > 0) s.samples.splice(0, i);
    }
    for (const [k, s] of this.shaping) {
      const i = s.samples.findIndex((x) => x.ts >= cutoff);
      if (i === -1) this.shaping.delete(k);
      else if (i > 0) s.samples.splice(0, i);
    }
  }
}
