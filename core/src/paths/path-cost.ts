/**
 * The cost of one candidate path of a pair, in milliseconds: its measured RTT with penalties for
 * loss and jitter, and a bias against relays, so a pair goes direct unless a relay is much faster
 * (a detour) or the direct path is dead or lossy.
 */

/** What the path choice knows about one candidate path at a moment. */
export interface PathFigures {
  /** Stable id of the candidate: "direct:<ip:port>" or "relay:<relay node id>". */
  id: string;
  kind: 'direct' | 'relay';
  /** Unix ms of the last answered probe on this path; null when it never answered (or since it last died). */
  lastReplyAt: number | null;
  /** The lowest RTT over the window, ms (the path's latency without queueing and scheduling noise); null before any answer. */
  rttMs: number | null;
  /** Loss over settled probes, 0..1; null while unknown. */
  loss: number | null;
  /** RFC 3550 jitter, ms. */
  jitterMs: number;
}

export interface PathCostWeights {
  /** Added per unit of loss (1.0 = 100 %): 100 ms makes a 20 % lossy path cost 20 ms more. */
  lossPenaltyMs: number;
  /** Each ms of jitter counts this many ms (jitter also carries the prober's own scheduling noise, so it weighs little). */
  jitterWeight: number;
  /** Added to every relayed path: a relay must be this much faster (plus hysteresis) to win over a working direct path. */
  relayBiasMs: number;
}

export const DEFAULT_COST_WEIGHTS: PathCostWeights = { lossPenaltyMs: 100, jitterWeight: 0.5, relayBiasMs: 15 };

/** pathCost is Infinity for a path with no RTT yet. */
export function pathCost(p: PathFigures, w: PathCostWeights = DEFAULT_COST_WEIGHTS): number {
  if (p.rttMs === null) return Infinity;
  return p.rttMs + (p.loss ?? 0) * w.lossPenaltyMs + p.jitterMs * w.jitterWeight + (p.kind === 'relay' ? w.relayBiasMs : 0);
}
