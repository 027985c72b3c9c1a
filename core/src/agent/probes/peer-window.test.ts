import { PeerWindow } from './peer-window';

const T = 1_000_000; // 1 s timeout, µs

describe('PeerWindow', () => {
  it('counts a probe lost only once its timeout has passed', () => {
    const w = new PeerWindow(10);
    w.recordSent(1, 0, 1000);
    expect(w.expire(T, T)).toBe(0); // exactly at the timeout: still pending
    expect(w.stats()).toMatchObject({ sent: 1, pending: 1, lost: 0, loss: 0 });
    const lost: number[] = [];
    expect(w.expire(T + 1, T, (seq) => lost.push(seq))).toBe(1);
    expect(lost).toEqual([1]);
    expect(w.stats()).toMatchObject({ sent: 1, pending: 0, lost: 1, loss: 1, lastRttUs: null, minRttUs: null });
  });

  it('computes loss, last/min/avg RTT over the window', () => {
    const w = new PeerWindow(10);
    const rtts = [1000, 3000, null, 2000];
    rtts.forEach((_, i) => w.recordSent(i, i * 100_000, i));
    rtts.forEach((r, i) => {
      if (r !== null) expect(w.recordReply(i, i * 100_000, i * 100_000 + r, T)).toBe('answered');
    });
    w.expire(10 * T, T);
    const s = w.stats();
    expect(s).toMatchObject({ sent: 4, received: 3, lost: 1, pending: 0, lastRttUs: 2000, minRttUs: 1000, avgRttUs: 2000 });
    expect(s.loss).toBeCloseTo(0.25);
  });

  it('applies the RFC 3550 jitter formula to consecutive RTTs', () => {
    const series = [10_000, 12_000, 11_000, 15_000, 15_000, 9_000];
    const w = new PeerWindow(60);
    let expected = 0;
    series.forEach((rtt, i) => {
      w.recordSent(i, 0, 0);
      w.recordReply(i, 0, rtt, T);
      if (i > 0) expected += (Math.abs(rtt - series[i - 1]!) - expected) / 16;
    });
    // Hand-computed: 125, 179.6875, 418.4570..., 392.3034..., 742.7844...
    expect(expected).toBeCloseTo(742.784, 2);
    expect(w.jitterUs).toBeCloseTo(expected, 9);
    expect(w.stats().jitterUs).toBeCloseTo(742.784, 2);
  });

  it('does not double count late or duplicate replies', () => {
    const w = new PeerWindow(10);
    w.recordSent(1, 0, 0);
    w.recordSent(2, 10, 0);
    w.expire(T + 1, T);
    expect(w.recordReply(1, 0, T + 5, T)).toBe('ignored'); // already expired
    expect(w.recordReply(2, 10, T + 11, T)).toBe('late'); // past timeout, not yet expired
    expect(w.recordReply(2, 10, T + 12, T)).toBe('ignored'); // duplicate
    expect(w.stats()).toMatchObject({ sent: 2, received: 0, lost: 2, loss: 1 });
    w.recordSent(3, 2 * T, 0);
    expect(w.recordReply(3, 999, 2 * T + 50, T)).toBe('ignored'); // echoed timestamp does not match
    expect(w.recordReply(3, 2 * T, 2 * T + 50, T)).toBe('answered');
    expect(w.recordReply(3, 2 * T, 2 * T + 60, T)).toBe('ignored');
    expect(w.stats()).toMatchObject({ sent: 3, received: 1, lost: 2, lastRttUs: 50 });
  });

  it('evicts the oldest probes when the window slides', () => {
    const w = new PeerWindow(3);
    // Probes 1 and 2 are lost, then 3, 4, 5 answered: after sliding, only 3..5 remain.
    for (let seq = 1; seq <= 5; seq++) {
      const sentUs = seq * 2 * T;
      w.expire(sentUs, T);
      w.recordSent(seq, sentUs, seq);
      if (seq >= 3) w.recordReply(seq, sentUs, sentUs + seq * 100, T);
    }
    expect(w.stats()).toMatchObject({ sent: 3, received: 3, lost: 0, loss: 0, minRttUs: 300, avgRttUs: 400 });
    expect(w.sentAtOf(1)).toBeNull();
    expect(w.recordReply(2, 4 * T, 4 * T + 1, T)).toBe('ignored');
  });

  it('reports a pending probe pushed out of a full window as lost', () => {
    const w = new PeerWindow(2);
    const lost: number[] = [];
    for (let seq = 1; seq <= 4; seq++) w.recordSent(seq, seq, 0, (s) => lost.push(s));
    expect(lost).toEqual([1, 2]);
    expect(w.oldestPendingUs()).toBe(3);
    w.recordReply(3, 3, 10, T);
    expect(w.oldestPendingUs()).toBe(4);
    w.recordReply(4, 4, 10, T);
    expect(w.oldestPendingUs()).toBe(Infinity);
  });
});
