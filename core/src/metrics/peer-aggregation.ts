/** The peer label of aggregate series, used above the per-peer series limit. */
export const AGGREGATE_PEER = '_aggregate';

/** Default peer count above which the agent records aggregates instead of one series per peer. */
export const DEFAULT_MAX_PEER_SERIES = 100;

export interface MinAvgMax {
  min: number;
  avg: number;
  max: number;
}

/** minAvgMax summarises finite values; null when there are none. */
export function minAvgMax(values: readonly number[]): MinAvgMax | null {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let n = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    n++;
  }
  return n === 0 ? null : { min, avg: sum / n, max };
}
