import type { Attributes, Counter, Histogram, Meter } from '@opentelemetry/api';
import { AGGREGATE_PEER, DEFAULT_MAX_PEER_SERIES, minAvgMax } from './peer-aggregation';

/** One peer's current figures, as the agent knows them at a scrape. */
export interface PeerMetricsSnapshot {
  name: string;
  /** Lost fraction 0..1 over the probe window; null (not observed) before the peer ever answered. */
  loss: number | null;
  jitterUs: number;
  rxBytes: number;
  txBytes: number;
  /** null before the first handshake. */
  handshakeAgeS: number | null;
  up: boolean;
  /** Seconds the pair has been on a relay without a break; 0 on a direct path; null without path choice. */
  relayedS?: number | null;
}

/** The WireGuard device the agent runs, as its metrics show it. */
export interface DeviceMetricsSnapshot {
  driver: string;
  version: string | null;
  commit: string | null;
  /** TUN segmentation offloads on (vnet header and TSO); null when they cannot be read. */
  segmentationOffload: boolean | null;
  /** The agent fell back from the bundled build (WgDeviceInfo.fallback). */
  fallback: boolean;
}

export interface AgentMetricsSnapshot {
  peers: PeerMetricsSnapshot[];
  netmapVersion: number;
  /** null: no posture decision yet. */
  compliant: boolean | null;
  /** null or absent while the device is down or cannot be described. */
  device?: DeviceMetricsSnapshot | null;
  /** Times requests or the map stream moved to another controller (several given); absent: none counted. */
  controllerFailovers?: number;
  /** `--exit-node`: the exit node wanted, its fallback, the one in use (null: none, traffic leaves locally) and how often that changed; null/absent without --exit-node. */
  exit?: ExitMetricsSnapshot | null;
  /** Remote spokes configured on demand through a hub relay (agent/on-demand-peers.ts); null/absent without a control socket. */
  onDemand?: OnDemandMetricsSnapshot | null;
}

/** On-demand peers now, by state, and their events since the agent started. */
export interface OnDemandMetricsSnapshot {
  staged: number;
  open: number;
  added: number;
  removedIdle: number;
  handshakeFailed: number;
  evicted: number;
}

/** The exit node a node chose and the one it uses, as its metrics show them. */
export interface ExitMetricsSnapshot {
  preferred: string;
  fallback: string | null;
  inUse: string | null;
  switches: number;
}

export interface AgentMetricsOptions {
  /** Above this many peers, per-peer series become one peer="_aggregate" series (min/avg/max). Default 100. */
  maxPeerSeries?: number;
}

/** Probe RTT buckets, seconds: 100 µs (same host) to 2.5 s (a satellite hop). */
export const RTT_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** NetworkMap apply-time buckets, seconds. */
export const APPLY_BUCKETS_S = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * AgentMetrics are the agent's instruments. Names follow the Prometheus conventions (base units
 * in the name, `_total` on counters), so the Prometheus endpoint and OTLP receivers show the same
 * names. Probe outcomes are recorded as they happen; the rest is observed from a snapshot at
 * collection time. With more peers than maxPeerSeries, per-peer series are replaced by aggregates
 * (peer="_aggregate"; counters summed over the peers, gauges as stat="min|avg|max") so a large
 * mesh cannot blow up the number of series.
 */
export class AgentMetrics {
  private readonly rtt: Histogram;
  private readonly probes: Counter;
  private readonly applyTime: Histogram;
  private readonly pathSwitches: Counter;
  private readonly endpointReasserts: Counter;
  private readonly maxPeerSeries: number;
  private peerCount = 0;

  constructor(
    meter: Meter,
    private readonly snapshot: () => Promise<AgentMetricsSnapshot>,
    opts: AgentMetricsOptions = {},
  ) {
    this.maxPeerSeries = opts.maxPeerSeries ?? DEFAULT_MAX_PEER_SERIES;
    this.rtt = meter.createHistogram('trellis_probe_rtt_seconds', {
      description: 'Overlay probe round-trip time per peer',
      unit: 's',
      advice: { explicitBucketBoundaries: RTT_BUCKETS_S },
    });
    this.probes = meter.createCounter('trellis_probes_total', { description: 'Overlay probes sent, by peer and outcome (answered, lost)' });
    this.applyTime = meter.createHistogram('trellis_netmap_apply_duration_seconds', {
      description: 'Time to apply a NetworkMap to the device, addresses and routes',
      unit: 's',
      advice: { explicitBucketBoundaries: APPLY_BUCKETS_S },
    });
    this.pathSwitches = meter.createCounter('trellis_path_switches_total', {
      description: 'Path switches per peer, by the path taken (direct or the relay\'s name) and cause (initial, dead, gone, better, recovered, adopted)',
    });
    this.endpointReasserts = meter.createCounter('trellis_path_endpoint_reasserts_total', {
      description: 'Times the chosen path\'s endpoint was written back to the device because WireGuard had roamed the peer onto another path, per peer and chosen path',
    });
    const loss = meter.createObservableGauge('trellis_peer_loss_ratio', { description: 'Probe loss over the probe window, 0..1', unit: '1' });
    const jitter = meter.createObservableGauge('trellis_peer_jitter_seconds', { description: 'RFC 3550 interarrival jitter of the probes', unit: 's' });
    const rx = meter.createObservableCounter('trellis_peer_rx_bytes_total', { description: 'WireGuard bytes received from the peer', unit: 'By' });
    const tx = meter.createObservableCounter('trellis_peer_tx_bytes_total', { description: 'WireGuard bytes sent to the peer', unit: 'By' });
    const hs = meter.createObservableGauge('trellis_peer_handshake_age_seconds', { description: 'Time since the last WireGuard handshake with the peer', unit: 's' });
    const up = meter.createObservableGauge('trellis_tunnel_up', { description: '1 when the tunnel to the peer had a handshake in the last 180 s' });
    const relayed = meter.createObservableGauge('trellis_peer_relayed_seconds', {
      description: 'How long the pair has used a relay without a break (0 on a direct path)',
      unit: 's',
    });
    const upCount = meter.createObservableGauge('trellis_tunnels', { description: 'Tunnels by state (up, down)' });
    const version = meter.createObservableGauge('trellis_netmap_version', { description: 'Version of the applied NetworkMap' });
    const posture = meter.createObservableGauge('trellis_posture_compliant', { description: '1 compliant, 0 not compliant, -1 no decision yet' });
    const peers = meter.createObservableGauge('trellis_peers', { description: 'Peers in the applied NetworkMap' });
    const deviceInfo = meter.createObservableGauge('trellis_wg_device_info', { description: 'The WireGuard device the agent runs: 1, labelled with its driver, version and commit' });
    const offload = meter.createObservableGauge('trellis_wg_device_segmentation_offload', { description: '1 when the TUN has segmentation offloads (vnet header and TSO) on, 0 when off' });
    const fallback = meter.createObservableGauge('trellis_wg_device_fallback', { description: '1 when the agent fell back from the bundled wireguard-go build to another one' });
    const failovers = meter.createObservableCounter('trellis_controller_failovers_total', { description: 'Times the agent moved to another controller because the one in use could not be reached' });
    const exitInUse = meter.createObservableGauge('trellis_exit_node_in_use', { description: 'For the exit node a node chose (role preferred) and its fallback: 1 when its traffic leaves through it, else 0' });
    const exitFallback = meter.createObservableGauge('trellis_exit_node_fallback', { description: '1 when the chosen exit node is not in use (it is offline, unapproved or not allowed) and traffic leaves through the fallback or locally; 0 when it is in use' });
    const exitSwitches = meter.createObservableCounter('trellis_exit_node_switches_total', { description: 'Times the exit node in use changed (to the fallback, back, or to none)' });
    const onDemandPeers = meter.createObservableGauge('trellis_on_demand_peers', { description: 'Remote spokes configured as WireGuard peers on demand through a hub relay, by state (staged: waiting for the handshake, traffic still through the hub; open: end to end)' });
    const onDemandEvents = meter.createObservableCounter('trellis_on_demand_peer_events_total', { description: 'On-demand peer events: added (traffic to a remote spoke), idle (removed), handshake_failed (no handshake through the hub relay; traffic stays on the hub), evicted (to make room)' });
    meter.addBatchObservableCallback(
      async (obs) => {
        const s = await this.snapshot();
        if (s.onDemand) {
          obs.observe(onDemandPeers, s.onDemand.staged, { state: 'staged' });
          obs.observe(onDemandPeers, s.onDemand.open, { state: 'open' });
          obs.observe(onDemandEvents, s.onDemand.added, { event: 'added' });
          obs.observe(onDemandEvents, s.onDemand.removedIdle, { event: 'idle' });
          obs.observe(onDemandEvents, s.onDemand.handshakeFailed, { event: 'handshake_failed' });
          obs.observe(onDemandEvents, s.onDemand.evicted, { event: 'evicted' });
        }
        this.peerCount = s.peers.length;
        obs.observe(peers, s.peers.length);
        obs.observe(version, s.netmapVersion);
        obs.observe(posture, s.compliant === null ? -1 : s.compliant ? 1 : 0);
        obs.observe(failovers, s.controllerFailovers ?? 0);
        if (s.exit) {
          const inUse = s.exit.inUse;
          obs.observe(exitInUse, inUse === s.exit.preferred ? 1 : 0, { exit_node: s.exit.preferred, role: 'preferred' });
          if (s.exit.fallback !== null) obs.observe(exitInUse, inUse === s.exit.fallback ? 1 : 0, { exit_node: s.exit.fallback, role: 'fallback' });
          obs.observe(exitFallback, inUse === s.exit.preferred ? 0 : 1, { exit_node: s.exit.preferred });
          obs.observe(exitSwitches, s.exit.switches);
        }
        const nUp = s.peers.filter((p) => p.up).length;
        obs.observe(upCount, nUp, { state: 'up' });
        obs.observe(upCount, s.peers.length - nUp, { state: 'down' });
        if (s.device) {
          obs.observe(deviceInfo, 1, { driver: s.device.driver, version: s.device.version ?? 'unknown', commit: s.device.commit ?? 'none' });
          if (s.device.segmentationOffload !== null) obs.observe(offload, s.device.segmentationOffload ? 1 : 0);
          obs.observe(fallback, s.device.fallback ? 1 : 0);
        }
        const gauges: Array<[typeof loss, (p: PeerMetricsSnapshot) => number | null]> = [
          [loss, (p) => p.loss],
          [jitter, (p) => p.jitterUs / 1e6],
          [hs, (p) => p.handshakeAgeS],
          [up, (p) => (p.up ? 1 : 0)],
          [relayed, (p) => p.relayedS ?? null],
        ];
        const counters: Array<[typeof rx, (p: PeerMetricsSnapshot) => number]> = [
          [rx, (p) => p.rxBytes],
          [tx, (p) => p.txBytes],
        ];
        if (this.aggregated(s.peers.length)) {
          for (const [inst, get] of gauges) {
            const agg = minAvgMax(s.peers.map(get).filter((v): v is number => v !== null));
            if (!agg) continue;
            for (const stat of ['min', 'avg', 'max'] as const) obs.observe(inst, agg[stat], { peer: AGGREGATE_PEER, stat });
          }
          for (const [inst, get] of counters) obs.observe(inst, s.peers.reduce((sum, p) => sum + get(p), 0), { peer: AGGREGATE_PEER });
          return;
        }
        for (const p of s.peers) {
          for (const [inst, get] of gauges) {
            const v = get(p);
            if (v !== null) obs.observe(inst, v, { peer: p.name });
          }
          for (const [inst, get] of counters) obs.observe(inst, get(p), { peer: p.name });
        }
      },
      [loss, jitter, rx, tx, hs, up, relayed, upCount, version, posture, peers, deviceInfo, offload, fallback, failovers, exitInUse, exitFallback, exitSwitches, onDemandPeers, onDemandEvents],
    );
  }

  /** aggregated says whether a mesh of this many peers gets aggregate series. */
  aggregated(peerCount: number): boolean {
    return peerCount > this.maxPeerSeries;
  }

  /** setPeerCount tells the metrics how many peers the applied map has (switches aggregation). */
  setPeerCount(n: number): void {
    this.peerCount = n;
  }

  private peerAttrs(peer: string): Attributes {
    return { peer: this.aggregated(this.peerCount) ? AGGREGATE_PEER : peer };
  }

  /** recordProbe records one probe outcome; rttUs null means lost. */
  recordProbe(peer: string, rttUs: number | null): void {
    const attrs = this.peerAttrs(peer);
    if (rttUs === null) {
      this.probes.add(1, { ...attrs, outcome: 'lost' });
      return;
    }
    this.probes.add(1, { ...attrs, outcome: 'answered' });
    this.rtt.record(rttUs / 1e6, attrs);
  }

  /** recordPathSwitch counts one path switch to a peer (path: 'direct' or the relay's name). */
  recordPathSwitch(peer: string, path: string, cause: string): void {
    this.pathSwitches.add(1, { ...this.peerAttrs(peer), path, cause });
  }

  /** recordEndpointReassert counts one endpoint written back to the device (path: the chosen one, 'direct' or the relay's name). */
  recordEndpointReassert(peer: string, path: string): void {
    this.endpointReasserts.add(1, { ...this.peerAttrs(peer), path });
  }

  /** recordApply records one NetworkMap apply that took ms milliseconds. */
  recordApply(ms: number): void {
    this.applyTime.record(ms / 1000);
  }
}

