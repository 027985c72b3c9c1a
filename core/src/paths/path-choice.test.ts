import fc from 'fast-check';
import { choosePath, DEFAULT_PATH_CHOICE, INITIAL_PATH_CHOICE, type PathChoiceState, type PathSwitch } from './path-choice';
import { pathCost, type PathFigures } from './path-cost';

const D = 'direct:198.18.0.2:51820';
const R = 'relay:n3';

const direct = (o: Partial<PathFigures> = {}): PathFigures => ({ id: D, kind: 'direct', lastReplyAt: 0, rttMs: 0.3, loss: 0, jitterMs: 0.05, ...o });
const relay = (o: Partial<PathFigures> = {}): PathFigures => ({ id: R, kind: 'relay', lastReplyAt: 0, rttMs: 0.6, loss: 0, jitterMs: 0.05, ...o });

/** A fake clock drives choosePath every tickMs with the figures `at(now)` gives. */
function run(ticks: number, at: (now: number) => PathFigures[], tickMs = 200, start: PathChoiceState = INITIAL_PATH_CHOICE) {
  let state = start;
  const switches: Array<PathSwitch & { at: number }> = [];
  const actives: Array<string | null> = [];
  for (let i = 1; i <= ticks; i++) {
    const now = i * tickMs;
    const d = choosePath(state, at(now), now);
    state = d.state;
    if (d.switched) switches.push({ ...d.switched, at: now });
    actives.push(d.active);
  }
  return { state, switches, actives };
}

describe('pathCost', () => {
  it('adds loss, jitter and the relay bias to the RTT', () => {
    expect(pathCost(direct({ rttMs: 10, loss: 0.2, jitterMs: 2 }))).toBeCloseTo(10 + 20 + 1);
    expect(pathCost(relay({ rttMs: 1, loss: 0, jitterMs: 0 }))).toBeCloseTo(16);
    expect(pathCost(direct({ rttMs: null }))).toBe(Infinity);
  });
});

describe('choosePath', () => {
  it('starts on the first live path and prefers direct when both answer', () => {
    const d = choosePath(INITIAL_PATH_CHOICE, [relay({ lastReplyAt: 90 }), direct({ lastReplyAt: 95 })], 100);
    expect(d.active).toBe(D);
    expect(d.switched).toEqual({ from: null, to: D, cause: 'initial' });
    expect(d.reason).toContain('first live path');
  });

  it('chooses nothing while no candidate has answered', () => {
    const d = choosePath(INITIAL_PATH_CHOICE, [relay({ lastReplyAt: null, rttMs: null }), direct({ lastReplyAt: null, rttMs: null })], 100);
    expect(d.active).toBeNull();
    expect(d.switched).toBeNull();
  });

  it('fails over at once when the active path stops answering, and recovers within 15 s once it is back', () => {
    const cutAt = 10_000;
    const healAt = 20_000;
    const { switches } = run(200, (now) => [
      direct({ lastReplyAt: now < cutAt || now >= healAt ? now : cutAt }),
      relay({ lastReplyAt: now }),
    ]);
    expect(switches.map((s) => s.cause)).toEqual(['initial', 'dead', 'recovered']);
    const dead = switches[1]!;
    expect(dead.to).toBe(R);
    expect(dead.at - cutAt).toBeLessThanOrEqual(DEFAULT_PATH_CHOICE.activeDeadAfterMs + 200);
    const back = switches[2]!;
    expect(back.to).toBe(D);
    expect(back.at - healAt).toBeLessThanOrEqual(15_000);
    // Not before the hold-down ran out.
    expect(back.at - dead.at).toBeGreaterThanOrEqual(DEFAULT_PATH_CHOICE.holdDownMs);
  });

  it('detours through a relay that is much faster, only after it stayed faster for winForMs', () => {
    const slowFrom = 5_000;
    const { switches } = run(100, (now) => [direct({ lastReplyAt: now, rttMs: now < slowFrom ? 0.3 : 40.3 }), relay({ lastReplyAt: now, rttMs: 0.8 })]);
    expect(switches.map((s) => [s.cause, s.to])).toEqual([
      ['initial', D],
      ['better', R],
    ]);
    expect(switches[1]!.at - slowFrom).toBeGreaterThanOrEqual(DEFAULT_PATH_CHOICE.winForMs);
    expect(switches[1]!.at - slowFrom).toBeLessThanOrEqual(DEFAULT_PATH_CHOICE.winForMs + 400);
  });

  it('does not switch for a gain under 10 ms or under 20 %', () => {
    // relay cost 0.6+15+0.1 ≈ 15.7; direct 24 ms: gain ~8 ms < 10 ms.
    const { switches } = run(300, (now) => [direct({ lastReplyAt: now, rttMs: 24 }), relay({ lastReplyAt: now })]);
    expect(switches.map((s) => s.cause)).toEqual(['initial']);
  });

  it('a challenger that stops being better before winForMs does not take over', () => {
    const { switches } = run(300, (now) => [
      direct({ lastReplyAt: now, rttMs: Math.floor(now / 2000) % 2 === 1 ? 60 : 0.3 }),
      relay({ lastReplyAt: now }),
    ]);
    expect(switches.map((s) => s.cause)).toEqual(['initial']);
  });

  it('makes at most one better switch per minute', () => {
    // The direct path alternates between fast and slow every 10 s: without the limit it would switch every 10 s.
    const { switches } = run(1500, (now) => [
      direct({ lastReplyAt: now, rttMs: Math.floor(now / 10_000) % 2 === 1 ? 60 : 0.3 }),
      relay({ lastReplyAt: now }),
    ]);
    const better = switches.filter((s) => s.cause === 'better');
    expect(better.length).toBeGreaterThan(1);
    for (let i = 1; i < better.length; i++) expect(better[i]!.at - better[i - 1]!.at).toBeGreaterThanOrEqual(60_000);
  });

  it('a path that keeps dying is held down longer each time', () => {
    // Direct answers for 3 s, then is silent for 3 s, over and over.
    const { switches } = run(3000, (now) => {
      const up = Math.floor(now / 3000) % 2 === 0;
      return [direct({ lastReplyAt: up ? now : Math.floor(now / 3000) * 3000 }), relay({ lastReplyAt: now })];
    });
    const deaths = switches.filter((s) => s.cause === 'dead').map((s) => s.at);
    const returns = switches.filter((s) => s.cause === 'recovered').map((s) => s.at);
    expect(deaths.length).toBeGreaterThanOrEqual(2);
    // Time spent away from direct after each death grows.
    const away = returns.map((r, i) => r - deaths[i]!);
    for (let i = 1; i < away.length; i++) expect(away[i]!).toBeGreaterThan(away[i - 1]!);
    // Over 10 minutes a path down half the time costs only a handful of switches, never one every 6 s.
    expect(switches.length).toBeLessThan(20);
  });

  it('a path that served a while before it died is held down afresh, not longer', () => {
    // Direct up 30 s, down 3 s, over and over: each death is of a path that had served 15 s or more.
    const { switches } = run(1500, (now) => {
      const up = now % 33_000 < 30_000;
      return [direct({ lastReplyAt: up ? now : Math.floor(now / 33_000) * 33_000 + 30_000 }), relay({ lastReplyAt: now })];
    });
    const deaths = switches.filter((s) => s.cause === 'dead').map((s) => s.at);
    const returns = switches.filter((s) => s.cause === 'recovered').map((s) => s.at);
    expect(deaths.length).toBeGreaterThanOrEqual(4);
    const away = returns.map((r, i) => r - deaths[i]!);
    for (const a of away) expect(a).toBeLessThanOrEqual(DEFAULT_PATH_CHOICE.holdDownMs + DEFAULT_PATH_CHOICE.winForMs + 400);
  });

  it('stays on a dead path when nothing else is live, and says so', () => {
    const d1 = choosePath(INITIAL_PATH_CHOICE, [direct({ lastReplyAt: 100 })], 100);
    const d2 = choosePath(d1.state, [direct({ lastReplyAt: 100 }), relay({ lastReplyAt: null, rttMs: null })], 5000);
    expect(d2.active).toBe(D);
    expect(d2.switched).toBeNull();
    expect(d2.reason).toContain('no other path is live');
  });

  it('moves at once when the active path is no longer a candidate', () => {
    const d1 = choosePath(INITIAL_PATH_CHOICE, [direct({ lastReplyAt: 100 }), relay({ lastReplyAt: 100 })], 100);
    const d2 = choosePath(d1.state, [relay({ lastReplyAt: 300 })], 300);
    expect(d2.switched).toEqual({ from: D, to: R, cause: 'gone' });
  });

  it('grants a path just chosen the full dead time even when its last answer is older', () => {
    const d1 = choosePath(INITIAL_PATH_CHOICE, [direct({ lastReplyAt: 1000 }), relay({ lastReplyAt: 1000 })], 1000);
    // Direct dies; relay last answered 900 ms before the failover.
    const d2 = choosePath(d1.state, [direct({ lastReplyAt: 1000 }), relay({ lastReplyAt: 1300 })], 2200);
    expect(d2.active).toBe(R);
    const d3 = choosePath(d2.state, [direct({ lastReplyAt: 1000 }), relay({ lastReplyAt: 1300 })], 2600);
    expect(d3.switched).toBeNull();
  });
});

describe('choosePath properties', () => {
  const figures = (id: string, kind: 'direct' | 'relay') =>
    fc.record({
      id: fc.constant(id),
      kind: fc.constant(kind),
      silentMs: fc.option(fc.integer({ min: 0, max: 5000 }), { nil: null }),
      rttMs: fc.double({ min: 0.05, max: 200, noNaN: true }),
      loss: fc.double({ min: 0, max: 1, noNaN: true }),
      jitterMs: fc.double({ min: 0, max: 20, noNaN: true }),
    });
  const step = fc.array(fc.oneof(figures(D, 'direct'), figures(R, 'relay'), figures('direct:[fd00::2]:51820', 'direct')), { minLength: 0, maxLength: 3 });
  const toFigures = (now: number, list: Array<{ id: string; kind: 'direct' | 'relay'; silentMs: number | null; rttMs: number; loss: number; jitterMs: number }>): PathFigures[] => {
    const seen = new Set<string>();
    return list
      .filter((p) => !seen.has(p.id) && seen.add(p.id))
      .map((p) => ({ id: p.id, kind: p.kind, lastReplyAt: p.silentMs === null ? null : now - p.silentMs, rttMs: p.silentMs === null ? null : p.rttMs, loss: p.loss, jitterMs: p.jitterMs }));
  };

  it('never stays on a dead path while another path is live, and never switches to a dead one', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => {
        let state = INITIAL_PATH_CHOICE;
        let now = 0;
        for (const s of steps) {
          now += 250;
          const cands = toFigures(now, s);
          const d = choosePath(state, cands, now);
          const liveIds = cands.filter((p) => p.lastReplyAt !== null && now - p.lastReplyAt <= (p.id === state.active ? DEFAULT_PATH_CHOICE.activeDeadAfterMs : DEFAULT_PATH_CHOICE.candidateLiveWithinMs)).map((p) => p.id);
          if (d.switched) expect(liveIds).toContain(d.switched.to);
          const activeLive = state.active !== null && cands.some((p) => p.id === state.active) && d.active === state.active;
          if (activeLive && !d.switched) {
            const cur = cands.find((p) => p.id === state.active)!;
            const deadNow = now - Math.max(cur.lastReplyAt ?? -Infinity, state.since) > DEFAULT_PATH_CHOICE.activeDeadAfterMs;
            if (deadNow) expect(liveIds.filter((id) => id !== cur.id)).toEqual([]);
          }
          state = d.state;
        }
      }),
    );
  });

  it('better switches win by both margins and are a minute apart', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 400 }), (steps) => {
        let state = INITIAL_PATH_CHOICE;
        let now = 0;
        let lastBetter: number | null = null;
        for (const s of steps) {
          now += 250;
          const cands = toFigures(now, s);
          const d = choosePath(state, cands, now);
          if (d.switched?.cause === 'better') {
            const from = cands.find((p) => p.id === d.switched!.from)!;
            const to = cands.find((p) => p.id === d.switched!.to)!;
            const gain = pathCost(from) - pathCost(to);
            expect(gain).toBeGreaterThanOrEqual(10);
            expect(gain).toBeGreaterThanOrEqual(0.2 * pathCost(from));
            if (lastBetter !== null) expect(now - lastBetter).toBeGreaterThanOrEqual(60_000);
            lastBetter = now;
          }
          if (d.switched?.cause === 'recovered') lastBetter = now;
          state = d.state;
        }
      }),
    );
  });

  it('with steady figures there is no switch after the first choice settles', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.1, max: 150, noNaN: true }), fc.double({ min: 0.1, max: 150, noNaN: true }), fc.double({ min: 0, max: 0.5, noNaN: true }), (dRtt, rRtt, dLoss) => {
        const { switches } = run(1500, (now) => [direct({ lastReplyAt: now, rttMs: dRtt, loss: dLoss }), relay({ lastReplyAt: now, rttMs: rRtt })]);
        expect(switches.length).toBeLessThanOrEqual(2);
        expect(switches[0]!.cause).toBe('initial');
        // Any second switch happens in the first few seconds (the initial settling), never later.
        if (switches[1]) expect(switches[1].at).toBeLessThanOrEqual(DEFAULT_PATH_CHOICE.winForMs + 400);
      }),
    );
  });

  it('a 20 % lossy direct path probed at 5 Hz causes at most one switch a minute', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.constantFrom(0.2, 0.3), (seed, lossRate) => {
        // A seeded generator decides which probes the lossy path loses.
        let x = seed;
        const rand = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
        let lastDirect = 0;
        const { switches } = run(3000, (now) => {
          if (rand() >= lossRate) lastDirect = now;
          return [direct({ lastReplyAt: lastDirect, rttMs: 0.3, loss: lossRate }), relay({ lastReplyAt: now, rttMs: 0.6 })];
        });
        const later = switches.filter((s) => s.cause !== 'initial');
        for (let i = 1; i < later.length; i++) expect(later[i]!.at - later[i - 1]!.at).toBeGreaterThanOrEqual(60_000);
      }),
      { numRuns: 50 },
    );
  });
});

describe('choosePath when the active path dies with another address of the same peer', () => {
  const D2 = 'direct:198.19.0.2:51820';
  const direct2 = (o: Partial<PathFigures> = {}): PathFigures => ({ id: D2, kind: 'direct', lastReplyAt: 0, rttMs: 0.3, loss: 0, jitterMs: 0.05, ...o });
  const onD: PathChoiceState = { ...INITIAL_PATH_CHOICE, active: D, since: 0 };
  // Both of the peer's addresses went silent at 10 s (a blackholed peer); D2 still counts as live.
  const silentAt = 10_000;
  const noticed = silentAt + DEFAULT_PATH_CHOICE.activeDeadAfterMs + 50;

  it('fails over to a candidate that answered after the dead path went silent, not to one that answered only before', () => {
    // The relay answered the probe the prober sent at half the dead time; D2 did not (it last answered just after D).
    const d = choosePath(onD, [direct({ lastReplyAt: silentAt }), direct2({ lastReplyAt: silentAt + 20 }), relay({ lastReplyAt: silentAt + 560, rttMs: 5 })], noticed);
    expect(d.switched).toEqual({ from: D, to: R, cause: 'dead' });
  });

  it('takes the cheapest live candidate when none answered since (nothing better is known)', () => {
    const d = choosePath(onD, [direct({ lastReplyAt: silentAt }), direct2({ lastReplyAt: silentAt + 20 }), relay({ lastReplyAt: silentAt - 300 })], noticed);
    expect(d.switched).toEqual({ from: D, to: D2, cause: 'dead' });
  });

  it('takes the other address when it is the one that still answers (an uplink lost)', () => {
    const d = choosePath(onD, [direct({ lastReplyAt: silentAt }), direct2({ lastReplyAt: silentAt + 600 }), relay({ lastReplyAt: silentAt + 580 })], noticed);
    expect(d.switched).toEqual({ from: D, to: D2, cause: 'dead' });
  });
});
