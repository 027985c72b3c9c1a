/**
 * The telemetry rows shaping-tc adds to each batch (TelemetryBatch.plugins['shaping-tc']): one
 * tc class's counters at a time. Exporters that store or evaluate them (telemetry-clickhouse,
 * alerts-live) read this shape by the plugin's name and check its fields.
 */
export interface ShapingClassRow {
  [field: string]: unknown;
  ts: number;
  /** Set by the controller to the node that sent the batch. */
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
