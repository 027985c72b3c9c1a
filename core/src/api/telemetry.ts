/**
 * Telemetry rows an agent sends to the controller over its signed channel. The controller hands each
 * batch to `onTelemetry` hooks (exporters such as ClickHouse); devices never hold exporter credentials.
 * Times are unix milliseconds.
 */

/** One probe: answered (rttUs set) or lost. seq is per (src, dst) and never reused by one agent. */
export interface ProbeRow {
  ts: number;
  src: string;
  dst: string;
  /** 'direct', or the name of the relay the path used. */
  path: string;
  seq: number;
  rttUs: number | null;
  lost: boolean;
  jitterUs: number;
}

export interface TunnelRow {
  ts: number;
  src: string;
  dst: string;
  rxBytes: number;
  txBytes: number;
  /** Seconds since the last handshake; null before the first. */
  handshakeAgeS: number | null;
  up: boolean;
}

export interface ShapingClassRow {
  ts: number;
  node: string;
  iface: string;
  direction: 'egress' | 'ingress';
  class: string;
  bytes: number;
  packets: number;
  drops: number;
  overlimits: number;
  backlog: number;
}

/** What agent plugins add to a batch through collectTelemetry. */
export interface TelemetryContribution {
  shaping?: ShapingClassRow[];
}

export interface TelemetryBatch extends TelemetryContribution {
  /** Unique per batch; a re-sent batch keeps its id so exporters can drop it. */
  batchId: string;
  /** Node name of the sender (set by the controller from the authenticated node, not trusted from the body). */
  node: string;
  nodeId: string;
  sentAt: number;
  probes: ProbeRow[];
  tunnels: TunnelRow[];
}
