import { PeerWindow } from './peer-window';

const T = 1_000_000; // 1 s timeout, µs
/** A seq no test below sends, for the probe whose answer opens the reply path. */
const OPENING_SEQ = 0xffff_ffff;

/** A window whose peer has answered once, so every probe sent from now on counts. */
function openWindow(size: number): PeerWindow {
  const w = new PeerWindow(size);
  w.recordSent(OPENING_SEQ, 0, 0);
  expect(w.recordReply(OPENING_SEQ, 0, 0, T)).toBe('opened');
  return w;
}

describe('PeerWindow', () => {
  it('counts a probe lost only once its timeout has passed', () => {
    const w = openWindow(10);
    w.recordSent(1, 0, 1000);
    expect(w.expire(T, T)).toBe(0); // exactly at the timeout: still pending
    // Nothing settled yet is no data, not 0 % (issue 15 §4; this said loss: 0 before).
    expect(w.stats()).toMatchObject({ sent: 1, pending: 1, lost: 0, loss: null });
    const lost: number[] = [];
    expect(w.expire(T + 1, T, (seq) => lost.push(seq))).toBe(1);
    expect(lost).toEqual([1]);
    expect(w.stats()).toMatchObject({ sent: 1, pending: 0, lost: 1, loss: 1, lastRttUs: null, minRttUs: null });
  });

  it('computes loss, last/min/avg RTT over the window', () => {
    const w = openWindow(10);
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
    const w = openWindow(60);
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
    const w = openWindow(10);
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
    const w = openWindow(3);
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
    const w = openWindow(2);
    const lost: number[] = [];
    for (let seq = 1; seq <= 4; seq++) w.recordSent(seq, seq, 0, (s) => lost.push(s));
    expect(lost).toEqual([1, 2]);
    expect(w.oldestPendingUs()).toBe(3);
    w.recordReply(3, 3, 10, T);
    expect(w.oldestPendingUs()).toBe(4);
    w.recordReply(4, 4, 10, T);
    expect(w.oldestPendingUs()).toBe(Infinity);
  });

  describe('loss describes the tunnel, not its start', () => {
    it('does not count probes sent before the first reply, answered late or not at all', () => {
      // The peer is not ready for 5 s (no WireGuard session, or it has not added us yet): probes
      // 1..5 go unanswered, then WireGuard delivers the ones it held and the peer answers them late.
      const w = new PeerWindow(60);
      const lost: number[] = [];
      for (let seq = 1; seq <= 5; seq++) {
        w.expire((seq - 1) * T, T, (s) => lost.push(s));
        w.recordSent(seq, (seq - 1) * T, seq);
      }
      expect(w.expire(5 * T, T, (s) => lost.push(s))).toBe(0);
      expect(w.stats()).toMatchObject({ replied: false, sent: 0, received: 0, lost: 0, pending: 0, early: 5, loss: null, lastRttUs: null });
      expect(w.recordReply(3, 2 * T, 5 * T + 100, T)).toBe('opened');
      expect(w.recordReply(4, 3 * T, 5 * T + 110, T)).toBe('ignored');
      expect(w.recordReply(5, 4 * T, 5 * T + 120, T)).toBe('ignored'); // was still in flight: early all the same
      for (let seq = 6; seq <= 20; seq++) {
        const at = (seq - 1) * T;
        w.expire(at, T, (s) => lost.push(s));
        w.recordSent(seq, at, seq);
        expect(w.recordReply(seq, at, at + 400, T)).toBe('answered');
      }
      expect(lost).toEqual([]);
      expect(w.stats()).toMatchObject({ replied: true, sent: 15, received: 15, lost: 0, early: 5, loss: 0, lastRttUs: 400, minRttUs: 400 });
    });

    it('an early probe answered in time opens the path but its RTT (handshake wait included) does not count', () => {
      const w = new PeerWindow(10);
      w.recordSent(1, 0, 0);
      expect(w.recordReply(1, 0, 450_000, T)).toBe('opened');
      expect(w.stats()).toMatchObject({ replied: true, sent: 0, early: 1, loss: null, lastRttUs: null, minRttUs: null });
      w.recordSent(2, T, 0);
      expect(w.recordReply(2, T, T + 300, T)).toBe('answered');
      expect(w.stats()).toMatchObject({ sent: 1, received: 1, loss: 0, lastRttUs: 300, minRttUs: 300, jitterUs: 0 });
    });

    it('with measureOpeningReply the reply that opens the path counts with its RTT (a disco pong waits for no handshake)', () => {
      const w = new PeerWindow(10, { measureOpeningReply: true });
      w.recordSent(1, 0, 0);
      w.recordSent(2, 1_000, 0);
      expect(w.recordReply(2, 1_000, 1_700, T)).toBe('opened');
      // The answered probe is the first counted one; the one sent before it stays early.
      expect(w.stats()).toMatchObject({ replied: true, sent: 1, received: 1, lost: 0, pending: 0, early: 1, loss: 0, lastRttUs: 700, minRttUs: 700, avgRttUs: 700, jitterUs: 0 });
      expect(w.recordReply(1, 0, 1_800, T)).toBe('ignored');
      w.recordSent(3, 2_000, 0);
      expect(w.recordReply(3, 2_000, 2_900, T)).toBe('answered');
      expect(w.stats()).toMatchObject({ sent: 2, received: 2, lastRttUs: 900, minRttUs: 700, jitterUs: 200 / 16 });
    });

    it('with measureOpeningReply a late opening reply still opens the path without an RTT', () => {
      const w = new PeerWindow(10, { measureOpeningReply: true });
      w.recordSent(1, 0, 0);
      expect(w.recordReply(1, 0, T + 1, T)).toBe('opened');
      expect(w.stats()).toMatchObject({ replied: true, sent: 0, received: 0, early: 1, loss: null, lastRttUs: null });
      const v = new PeerWindow(10, { measureOpeningReply: true });
      v.recordSent(1, 0, 0);
      expect(v.expire(T + 1, T)).toBe(0);
      expect(v.recordReply(1, 0, T + 2, T)).toBe('opened');
      expect(v.stats()).toMatchObject({ received: 0, early: 1, lastRttUs: null });
    });

    it('a peer that never answers has no loss figure (not 0 %, not a guess) and reports no lost probe', () => {
      const w = new PeerWindow(10);
      const lost: number[] = [];
      for (let seq = 1; seq <= 25; seq++) {
        w.expire(seq * T, T, (s) => lost.push(s));
        w.recordSent(seq, seq * T, seq);
      }
      w.expire(100 * T, T, (s) => lost.push(s));
      expect(lost).toEqual([]);
      expect(w.oldestPendingUs()).toBe(Infinity);
      expect(w.stats()).toMatchObject({ replied: false, sent: 0, early: 10, pending: 0, loss: null });
    });

    it('once the peer has answered, real loss counts in full: every fifth probe dropped is 20 %, and a silent peer is 100 %', () => {
      const w = openWindow(60);
      const lost: number[] = [];
      let t = T;
      for (let seq = 1; seq <= 60; seq++, t += T) {
        w.expire(t, T, (s) => lost.push(s));
        w.recordSent(seq, t, seq);
        if (seq % 5 !== 0) w.recordReply(seq, t, t + 500, T);
      }
      w.expire(t + T, T, (s) => lost.push(s));
      expect(lost).toEqual([5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60]);
      expect(w.stats()).toMatchObject({ sent: 60, received: 48, lost: 12, early: 0 });
      expect(w.stats().loss).toBeCloseTo(0.2, 10);
      // The peer goes away: the path stays open, so its probes are lost, not uncounted.
      for (let seq = 61; seq <= 120; seq++, t += T) {
        w.expire(t, T);
        w.recordSent(seq, t, seq);
      }
      w.expire(t + T, T);
      expect(w.stats()).toMatchObject({ replied: true, sent: 60, received: 0, lost: 60, loss: 1 });
    });

    it('takes loss over probes old enough for their fate to be final, so young answers do not dilute it', () => {
      // 100 ms probes, 1 s timeout, every fifth dropped: the last second holds 8 answered probes
      // and 2 that will be lost but are still pending.
      const w = openWindow(60);
      const step = 100_000;
      let t = step;
      for (let seq = 1; seq <= 120; seq++, t += step) {
        w.expire(t, T);
        w.recordSent(seq, t, seq);
        if (seq % 5 !== 0) w.recordReply(seq, t, t + 300, T);
      }
      const now = t;
      w.expire(now, T);
      const naive = w.stats();
      expect(naive.pending).toBe(2);
      expect(naive.loss).toBeCloseTo(10 / 58, 10); // what counting every settled probe reads: 17 %
      const s = w.stats(now, T);
      expect(s.loss).toBeCloseTo(10 / 51, 10); // probes 61..111 are final: 10 of 51 lost, 19.6 %
      expect(s).toMatchObject({ sent: 60, received: 48, lost: 10, pending: 2 });
    });

    it('reads 0 % once the first counted probe is answered, before any probe is old enough to be final', () => {
      const w = openWindow(60);
      w.recordSent(1, T, 0);
      expect(w.stats(T + 100, T).loss).toBeNull();
      w.recordReply(1, T, T + 200, T);
      expect(w.stats(T + 300, T)).toMatchObject({ loss: 0, received: 1 });
    });

    it('ignores a reply that does not match a probe it sent, so a stray packet cannot open the path', () => {
      const w = new PeerWindow(10);
      w.recordSent(1, 1000, 0);
      expect(w.recordReply(1, 999, 2000, T)).toBe('ignored'); // wrong echoed timestamp (an earlier run)
      expect(w.recordReply(2, 1000, 2000, T)).toBe('ignored'); // never sent
      expect(w.replied).toBe(false);
      expect(w.stats().early).toBe(1);
    });
  });
});
