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

/**
 * One row an agent plugin adds to telemetry, of the plugin's own shape (for example one traffic
 * class's counters). Core carries it under the plugin's name and stamps its `node` with the
 * sender; the exporters that know the plugin read it by that name and check its fields themselves.
 */
export type PluginTelemetryRow = Record<string, unknown>;

/** What an agent plugin adds to the next batch through collectTelemetry. */
export interface TelemetryContribution {
  rows: PluginTelemetryRow[];
}

export interface TelemetryBatch {
  /** Unique per batch; a re-sent batch keeps its id so exporters can drop it. */
  batchId: string;
  /** Node name of the sender (set by the controller from the authenticated node, not trusted from the body). */
  node: string;
  nodeId: string;
  sentAt: number;
  probes: ProbeRow[];
  tunnels: TunnelRow[];
  /** Rows of agent plugins (collectTelemetry), by plugin name; absent when there are none. */
  plugins?: Record<string, PluginTelemetryRow[]>;
}
