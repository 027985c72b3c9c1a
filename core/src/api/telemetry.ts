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
 * One sample of a relay node's forwarder (`trellis up --relay`): its counters since it started
 * (a restart starts them at zero again), and what it serves at that moment.
 */
export interface RelayRow {
  ts: number;
  /** The relay node (set by the controller from the authenticated node). */
  src: string;
  port: number;
  forwardedPackets: number;
  forwardedBytes: number;
  /** Dropped for any reason, and of those: pairs it may not serve. */
  droppedPackets: number;
  droppedNotAllowed: number;
  /** Nodes with a live address at the relay, and WireGuard sessions it forwards. */
  nodes: number;
  sessions: number;
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
  /** Samples of the node's relay forwarder; absent when it runs none. */
  relays?: RelayRow[];
  /** Rows of agent plugins (collectTelemetry), by plugin name; absent when there are none. */
  plugins?: Record<string, PluginTelemetryRow[]>;
}
