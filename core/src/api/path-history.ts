/**
 * Per-path history for the controller's web console (its history charts). A telemetry exporter
 * that keeps rolled-up probe data registers a source; without one the console hides the panel.
 */

export interface PathHistoryPoint {
  /** Unix seconds, the start of the minute. */
  minute: number;
  /** p95 RTT of the minute, ms; null when every probe of the minute was lost (0 would chart as perfect). */
  p95Ms: number | null;
  lossPercent: number;
}

/** One path's per-minute figures, oldest first. */
export interface PathHistorySeries {
  src: string;
  dst: string;
  path: string;
  points: PathHistoryPoint[];
}

export interface PathHistorySource {
  /** One series per (src, dst, path) over the last `minutes` minutes; rejects with a message naming what did not answer. */
  p95RttHistory(minutes: number): Promise<PathHistorySeries[]>;
}
