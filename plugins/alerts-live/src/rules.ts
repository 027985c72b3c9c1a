import { rttLimitMs, type AlertThresholds } from '@trellis/plugin-dashboards-grafana';
import type { LiveInputs } from './live-inputs';

/** One alert instance as seen by one evaluation: breaching or not, with its figures. */
export interface Observation {
  uid: string;
  title: string;
  labels: Record<string, string>;
  value: number;
  threshold: number;
  breaching: boolean;
  forSeconds: number;
}

/** The rule uids and titles are the Grafana rules' (alert-conditions.ts), so both name an alert alike. */
export const RULES = {
  tunnel: { uid: 'trellis-tunnel-down', title: 'Tunnel down or stale handshake', area: 'tunnels', severity: 'critical' },
  loss: { uid: 'trellis-path-loss', title: 'Probe loss above limit', area: 'paths', severity: 'warning' },
  rtt: { uid: 'trellis-path-rtt-p95', title: 'p95 RTT above the path limit', area: 'paths', severity: 'warning' },
  jitter: { uid: 'trellis-realtime-jitter', title: 'Jitter above limit on a realtime path', area: 'paths', severity: 'warning' },
  offline: { uid: 'trellis-node-offline', title: 'Node offline', area: 'nodes', severity: 'critical' },
  posture: { uid: 'trellis-posture', title: 'Posture failure or quarantine', area: 'posture', severity: 'critical' },
  stalled: { uid: 'trellis-telemetry-stalled', title: 'Telemetry stalled', area: 'telemetry', severity: 'critical' },
  shaping: { uid: 'trellis-shaping-drops', title: 'Shaping drops', area: 'shaping', severity: 'warning' },
} as const;

/** Never-handshaked tunnels report this age, as the Grafana rule does. */
export const NEVER = 1_000_000_000;

const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

/** p95 by nearest rank. */
function p95(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(0.95 * sorted.length) - 1)]!;
}

/** isRealtime matches "src->dst" patterns where * is any node. */
export function isRealtime(patterns: readonly string[], src: string, dst: string): boolean {
  return patterns.some((p) => {
    const [s, d] = p.split('->');
    return (s === '*' || s === src) && (d === '*' || d === dst);
  });
}

/**
 * evaluateRules computes every rule on the live inputs at `now`, with every number from the
 * thresholds. It returns breaching and healthy instances alike; the state machine applies the
 * "for" durations.
 */
export function evaluateRules(inputs: LiveInputs, t: AlertThresholds, now: number): Observation[] {
  const out: Observation[] = [];
  const obs = (r: (typeof RULES)[keyof typeof RULES], labels: Record<string, string>, value: number, threshold: number, breaching: boolean, forSeconds: number) =>
    out.push({ uid: r.uid, title: r.title, labels: { ...labels, area: r.area, severity: r.severity }, value: round(value), threshold, breaching, forSeconds });

  for (const tun of inputs.tunnels.values()) {
    const age = tun.handshakeAgeS === null ? NEVER : tun.handshakeAgeS + Math.max(0, now - tun.ts) / 1000;
    obs(RULES.tunnel, { node: tun.src, peer: tun.dst }, age, t.handshakeMaxAgeSeconds, age > t.handshakeMaxAgeSeconds, t.tunnelForSeconds);
  }

  for (const p of inputs.paths.values()) {
    const labels = { src: p.src, dst: p.dst, path: p.path };
    const inWindow = (s: number) => p.samples.filter((x) => x.ts >= now - s * 1000 && x.ts <= now);
    const lossSamples = inWindow(t.lossWindowSeconds);
    if (lossSamples.length > 0) {
      const loss = (100 * lossSamples.filter((x) => x.lost).length) / lossSamples.length;
      obs(RULES.loss, labels, loss, t.lossMaxPercent, loss > t.lossMaxPercent, t.lossForSeconds);
    }
    const rtts = inWindow(t.rttWindowSeconds).filter((x) => !x.lost && x.rttUs !== null).map((x) => x.rttUs! / 1000);
    if (rtts.length > 0) {
      const limit = rttLimitMs(t, p.src, p.dst, p.path);
      const v = p95(rtts);
      obs(RULES.rtt, labels, v, limit, v > limit, t.rttForSeconds);
    }
    if (isRealtime(t.realtimePaths, p.src, p.dst)) {
      const js = inWindow(t.jitterWindowSeconds).filter((x) => !x.lost);
      if (js.length > 0) {
        const v = js.reduce((a, x) => a + x.jitterUs, 0) / js.length / 1000;
        obs(RULES.jitter, labels, v, t.jitterMaxMs, v > t.jitterMaxMs, t.jitterForSeconds);
      }
    }
  }

  for (const n of inputs.nodes.values()) {
    if (n.online !== null) {
      const offlineFor = n.online ? 0 : Math.max(0, now - n.since) / 1000;
      obs(RULES.offline, { node: n.name }, offlineFor, 0, n.online === false, t.nodeOfflineForSeconds);
    }
    if (n.compliant !== null) obs(RULES.posture, { node: n.name }, n.compliant ? 0 : 1, 0, !n.compliant, 0);
    if (n.online === true) {
      const ref = Math.max(n.lastBatchAt ?? n.since, n.since);
      const quiet = Math.max(0, now - ref) / 1000;
      obs(RULES.stalled, { node: n.name }, quiet, t.telemetryStalledSeconds, quiet > t.telemetryStalledSeconds, t.telemetryForSeconds);
    }
  }

  for (const s of inputs.shaping.values()) {
    const w = s.samples.filter((x) => x.ts >= now - t.shapingWindowSeconds * 1000 && x.ts <= now);
    if (w.length < 2) continue;
    const first = w[0]!;
    const last = w[w.length - 1]!;
    const seconds = Math.max(1, (last.ts - first.ts) / 1000);
    const rate = Math.max(0, last.drops - first.drops) / seconds;
    obs(RULES.shaping, { node: s.node, iface: s.iface, direction: s.direction, class: s.class }, rate, t.shapingDropsPerSecond, rate > t.shapingDropsPerSecond, t.shapingForSeconds);
  }
  return out;
}
