import { TrellisError } from '../errors';
import { checkImpairment, delayQueueBinary, lossTable, perDirection } from './lab-impairment';

const refused = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TrellisError);
    return (err as Error).message;
  }
  throw new Error('not refused');
};

describe('lab impairment figures', () => {
  it('split round-trip figures into each direction: half the delay and jitter, 1 − √(1 − loss) of the packets', () => {
    expect(perDirection({ delayMs: 40, jitterMs: 5, lossPct: 5 })).toEqual({ delayUs: 20_000, jitterUs: 2_500, lossPerMillion: 25_321 });
    expect(perDirection({ delayMs: 0, jitterMs: 0, lossPct: 100 })).toEqual({ delayUs: 0, jitterUs: 0, lossPerMillion: 1_000_000 });
    // Two directions at p each lose 1 − (1 − p)² of round trips: the figure given.
    const p = perDirection({ delayMs: 0, jitterMs: 0, lossPct: 20 }).lossPerMillion / 1e6;
    expect(1 - (1 - p) ** 2).toBeCloseTo(0.2, 5);
  });

  it('puts the whole figures on the one direction of a one-way impairment', () => {
    expect(perDirection({ delayMs: 40, jitterMs: 5, lossPct: 20, oneWay: true })).toEqual({ delayUs: 40_000, jitterUs: 5_000, lossPerMillion: 200_000 });
    expect(perDirection({ delayMs: 0, jitterMs: 0, lossPct: 100, oneWay: true }).lossPerMillion).toBe(1_000_000);
  });

  it('drops a share of the packets with numgen, and all of them (a cut) without it', () => {
    expect(lossTable('t', ['198.18.0.12', '198.19.0.12'], 25_321, 'c')).toContain('ip daddr { 198.18.0.12, 198.19.0.12 } numgen random mod 1000000 < 25321 counter drop comment "c"');
    expect(lossTable('t', ['198.18.0.12'], 1_000_000, 'c')).toContain('ip daddr { 198.18.0.12 } counter drop comment "c"');
  });

  it('refuses figures that make no sense, saying which', () => {
    expect(refused(() => checkImpairment({ delayMs: 10, jitterMs: 20, lossPct: 0 }))).toContain('--jitter 20 ms is more than --delay 10 ms');
    expect(refused(() => checkImpairment({ delayMs: -1, jitterMs: 0, lossPct: 0 }))).toContain('--delay must be 0..10000 ms');
    expect(refused(() => checkImpairment({ delayMs: 20_000, jitterMs: 0, lossPct: 0 }))).toContain('--delay must be 0..10000 ms');
    expect(refused(() => checkImpairment({ delayMs: 0, jitterMs: 0, lossPct: 101 }))).toContain('--loss must be 0..100 %');
    expect(refused(() => checkImpairment({ delayMs: Number.NaN, jitterMs: 0, lossPct: 0 }))).toContain('--delay');
    expect(refused(() => checkImpairment({ delayMs: 0, jitterMs: 0, lossPct: 0 }))).toContain('nothing to impair');
    expect(() => checkImpairment({ delayMs: 40, jitterMs: 5, lossPct: 5 })).not.toThrow();
  });

  it('finds the delay line beside the CLI\'s checkout, or says how to build it', () => {
    expect(refused(() => delayQueueBinary('/nowhere/core/dist/cli/main.js', {}))).toContain('/nowhere/.lab-tools/bin/trellis-delay-queue is missing; build it with `bash scripts/install-lab-tools.sh`');
    expect(refused(() => delayQueueBinary('/x/core/dist/cli/main.js', { TRELLIS_DELAY_QUEUE: '/also/nowhere' }))).toContain('/also/nowhere is missing');
  });
});
