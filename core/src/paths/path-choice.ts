/**
 * choosePath is the path choice of one pair as a pure state machine: given what it decided last
 * time, the figures of every candidate path and the time, it says which path to use and why.
 *
 * - A dead active path (no answer for activeDeadAfterMs) is left at once for the cheapest live
 *   candidate (relays are probed all the time, so one is known live): failover needs no waiting.
 *   Candidates that answered at least freshAfterMs after the dead path's last sign of life go
 *   first: one whose last answer is as old as the dead path's may share its fate (another address
 *   of the same blackholed peer), and taking it would mean a second switch a second later. (The
 *   prober asks every other candidate once the active one has been silent for half the dead time.)
 * - A live path is replaced only by one cheaper by minGainRatio AND minGainMs, continuously for
 *   winForMs (hysteresis), and such "better" switches happen at most once per minSwitchIntervalMs.
 * - A path that died is held down (holdDownMs, doubled for each further death within
 *   deathMemoryMs of a path that served less than stableMs) before it may take over again; returning to it once it is back and cheaper is a
 *   recovery, which the once-a-minute limit does not delay, but the growing hold-down does.
 * So a lossy or one-way path is left once and not returned to while it stays bad: no flapping.
 */
import { DEFAULT_COST_WEIGHTS, pathCost, type PathCostWeights, type PathFigures } from './path-cost';

export interface PathChoiceConfig {
  weights: PathCostWeights;
  /** The active path is dead after this long without an answer (counted from its last answer or from when it was chosen). */
  activeDeadAfterMs: number;
  /** Another candidate counts as live with an answer at most this old (they are probed less often). */
  candidateLiveWithinMs: number;
  minGainRatio: number;
  minGainMs: number;
  /** A better path must stay better this long before it takes over. */
  winForMs: number;
  /** A path that died may not take over again for this long (doubled per further death). */
  holdDownMs: number;
  holdDownMaxMs: number;
  /** Deaths older than this are forgotten (the hold-down starts over). */
  deathMemoryMs: number;
  /** A path that served this long before it died starts its hold-down over: only a path that dies soon after taking over is held longer each time. */
  stableMs: number;
  /** At most one switch to a "better" live path per this interval. */
  minSwitchIntervalMs: number;
  /** A candidate answered "since" a dead path when its last answer is this much newer than the dead path's last sign of life. */
  freshAfterMs: number;
}

export const DEFAULT_PATH_CHOICE: PathChoiceConfig = {
  weights: DEFAULT_COST_WEIGHTS,
  activeDeadAfterMs: 1100,
  candidateLiveWithinMs: 3500,
  minGainRatio: 0.2,
  minGainMs: 10,
  winForMs: 3000,
  holdDownMs: 8000,
  holdDownMaxMs: 300_000,
  deathMemoryMs: 600_000,
  stableMs: 15_000,
  minSwitchIntervalMs: 60_000,
  freshAfterMs: 300,
};

export interface PathDeath {
  count: number;
  lastAt: number;
  holdUntil: number;
}

export interface PathChoiceState {
  active: string | null;
  /** When the active path was chosen. */
  since: number;
  /** A cheaper path and since when it has been cheaper enough. */
  challenger: { id: string; since: number } | null;
  /** When the last better/recovered switch happened. */
  lastBetterSwitchAt: number | null;
  deaths: Readonly<Record<string, PathDeath>>;
}

export const INITIAL_PATH_CHOICE: PathChoiceState = Object.freeze({ active: null, since: 0, challenger: null, lastBetterSwitchAt: null, deaths: Object.freeze({}) });

/** Why the active path changed: first choice, the old one died or disappeared, a cheaper one won, the preferred one came back. */
export type PathSwitchCause = 'initial' | 'dead' | 'gone' | 'better' | 'recovered';

export interface PathSwitch {
  from: string | null;
  to: string;
  cause: PathSwitchCause;
}

export interface PathDecision {
  state: PathChoiceState;
  active: string | null;
  switched: PathSwitch | null;
  /** One line: why the active path is the one in use (for `trellis paths`). */
  reason: string;
}

const fmt = (ms: number) => (ms === Infinity ? '∞' : ms < 10 ? ms.toFixed(2) : ms.toFixed(1));

/** isLive: the path answered recently enough (the active one by the stricter rule). */
export function isLive(p: PathFigures, state: PathChoiceState, now: number, cfg: PathChoiceConfig = DEFAULT_PATH_CHOICE): boolean {
  if (p.lastReplyAt === null) return false;
  if (p.id === state.active) return now - Math.max(p.lastReplyAt, state.since) <= cfg.activeDeadAfterMs;
  return now - p.lastReplyAt <= cfg.candidateLiveWithinMs;
}

function heldDown(state: PathChoiceState, id: string, now: number): boolean {
  const d = state.deaths[id];
  return d !== undefined && d.holdUntil > now;
}

function cheapest(list: readonly PathFigures[], w: PathCostWeights): PathFigures | null {
  let best: PathFigures | null = null;
  let bestCost = Infinity;
  for (const p of list) {
    const c = pathCost(p, w);
    // Ties go to direct paths, then to the lower id, so both ends of a pair order alike.
    if (best === null || c < bestCost || (c === bestCost && (p.kind === 'direct' && best.kind === 'relay' || (p.kind === best.kind && p.id < best.id)))) {
      best = p;
      bestCost = c;
    }
  }
  return best;
}

function forgetOld(deaths: Readonly<Record<string, PathDeath>>, now: number, cfg: PathChoiceConfig): Readonly<Record<string, PathDeath>> {
  let out: Record<string, PathDeath> | null = null;
  for (const [id, d] of Object.entries(deaths)) {
    if (now - d.lastAt > cfg.deathMemoryMs && d.holdUntil <= now) {
      out ??= { ...deaths };
      delete out[id];
    }
  }
  return out ?? deaths;
}

function withDeath(deaths: Readonly<Record<string, PathDeath>>, id: string, activeForMs: number, now: number, cfg: PathChoiceConfig): Readonly<Record<string, PathDeath>> {
  const count = activeForMs >= cfg.stableMs ? 1 : (deaths[id]?.count ?? 0) + 1;
  const hold = Math.min(cfg.holdDownMaxMs, cfg.holdDownMs * 2 ** (count - 1));
  return { ...deaths, [id]: { count, lastAt: now, holdUntil: now + hold } };
}

function describe(p: PathFigures, w: PathCostWeights): string {
  const loss = p.loss === null ? '?' : `${Math.round(p.loss * 100)} %`;
  return `${p.id} cost ${fmt(pathCost(p, w))} ms (rtt ${p.rttMs === null ? '?' : fmt(p.rttMs)} ms, loss ${loss}, jitter ${fmt(p.jitterMs)} ms)`;
}

/** choosePath decides the pair's path at `now`. Pure: the same inputs give the same decision. */
export function choosePath(prev: PathChoiceState, candidates: readonly PathFigures[], now: number, cfg: PathChoiceConfig = DEFAULT_PATH_CHOICE): PathDecision {
  const w = cfg.weights;
  const deaths = forgetOld(prev.deaths, now, cfg);
  const live = candidates.filter((p) => isLive(p, prev, now, cfg));
  const current = prev.active === null ? undefined : candidates.find((p) => p.id === prev.active);
  const to = (p: PathFigures, cause: PathSwitchCause, extra: Partial<PathChoiceState>, reason: string): PathDecision => ({
    state: { active: p.id, since: now, challenger: null, lastBetterSwitchAt: prev.lastBetterSwitchAt, deaths, ...extra },
    active: p.id,
    switched: { from: prev.active, to: p.id, cause },
    reason,
  });
  const stay = (state: PathChoiceState, reason: string): PathDecision => ({ state, active: state.active, switched: null, reason });

  if (prev.active === null || current === undefined) {
    const pool = live.filter((p) => !heldDown(prev, p.id, now));
    const best = cheapest(pool.length > 0 ? pool : live, w);
    if (!best) return stay({ ...prev, active: null, challenger: null, deaths }, 'no candidate has answered yet');
    const cause: PathSwitchCause = prev.active === null ? 'initial' : 'gone';
    const why = cause === 'initial' ? 'first live path' : `${prev.active} is no longer a candidate`;
    return to(best, cause, {}, `${why}: ${describe(best, w)}`);
  }

  if (!live.some((p) => p.id === current.id)) {
    const lastSign = Math.max(current.lastReplyAt ?? 0, prev.since);
    const others = live.filter((p) => p.id !== current.id);
    const fresh = others.filter((p) => p.lastReplyAt !== null && p.lastReplyAt >= lastSign + cfg.freshAfterMs);
    const base = fresh.length > 0 ? fresh : others;
    const pool = base.filter((p) => !heldDown(prev, p.id, now));
    const best = cheapest(pool.length > 0 ? pool : base, w);
    const silentMs = now - lastSign;
    if (!best) return stay({ ...prev, challenger: null, deaths }, `${current.id} has not answered for ${fmt(silentMs / 1000)} s and no other path is live`);
    return to(best, 'dead', { deaths: withDeath(deaths, current.id, now - prev.since, now, cfg) }, `failover: ${current.id} dead (no answer for ${fmt(silentMs / 1000)} s); ${describe(best, w)}`);
  }

  const activeCost = pathCost(current, w);
  const contenders = live.filter((p) => p.id !== current.id && !heldDown(prev, p.id, now));
  const best = cheapest(contenders, w);
  const base = { ...prev, deaths };
  if (best) {
    const cost = pathCost(best, w);
    const gain = activeCost - cost;
    if (gain >= cfg.minGainMs && gain >= cfg.minGainRatio * activeCost) {
      const challenger = prev.challenger?.id === best.id ? prev.challenger : { id: best.id, since: now };
      const heldFor = now - challenger.since;
      if (heldFor < cfg.winForMs) {
        return stay({ ...base, challenger }, `${describe(current, w)}; ${best.id} is ${fmt(gain)} ms cheaper for ${fmt(heldFor / 1000)} s of the ${fmt(cfg.winForMs / 1000)} s it needs`);
      }
      const recovery = deaths[best.id] !== undefined;
      const limited = !recovery && prev.lastBetterSwitchAt !== null && now - prev.lastBetterSwitchAt < cfg.minSwitchIntervalMs;
      if (limited) {
        const wait = cfg.minSwitchIntervalMs - (now - prev.lastBetterSwitchAt!);
        return stay({ ...base, challenger }, `${describe(current, w)}; ${best.id} is ${fmt(gain)} ms cheaper but the last switch was under ${fmt(cfg.minSwitchIntervalMs / 1000)} s ago (${fmt(wait / 1000)} s to wait)`);
      }
      const cause: PathSwitchCause = recovery ? 'recovered' : 'better';
      return to(best, cause, { lastBetterSwitchAt: now }, `${cause === 'recovered' ? `${best.id} is back and` : `${best.id} is`} ${fmt(gain)} ms cheaper than ${current.id}: ${describe(best, w)}`);
    }
  }
  const runnerUp = best ?? cheapest(live.filter((p) => p.id !== current.id), w);
  const note = runnerUp ? `; next ${describe(runnerUp, w)}${heldDown(prev, runnerUp.id, now) ? ' (held down after it died)' : ''}` : '; no other live path';
  return stay({ ...base, challenger: null }, `${current.kind === 'relay' && !runnerUp ? 'only live path: ' : 'cheapest within hysteresis: '}${describe(current, w)}${note}`);
}
