import { pathState } from './console-snapshot';

const NOW = 1_700_000_000_000;

describe('pathState', () => {
  const fresh = { up: true, loss: 0, updatedAt: NOW - 1000 };
  it('is up on a fresh path with probe figures and no loss, degraded with any loss', () => {
    expect(pathState(fresh, true, true, NOW)).toBe('up');
    expect(pathState({ ...fresh, loss: 0.02 }, true, true, NOW)).toBe('degraded');
  });
  it('is unknown, not up, while the peer has not answered a probe (no loss figure)', () => {
    expect(pathState({ ...fresh, loss: null }, true, true, NOW)).toBe('unknown');
    expect(pathState({ ...fresh, up: null, loss: null }, true, true, NOW)).toBe('unknown');
  });
  it('is down when the tunnel is reported down, an end is offline, or nothing came for 15 s', () => {
    expect(pathState({ ...fresh, up: false, loss: null }, true, true, NOW)).toBe('down');
    expect(pathState(fresh, false, true, NOW)).toBe('down');
    expect(pathState(fresh, true, false, NOW)).toBe('down');
    expect(pathState({ ...fresh, updatedAt: NOW - 15_001 }, true, true, NOW)).toBe('down');
  });
});
