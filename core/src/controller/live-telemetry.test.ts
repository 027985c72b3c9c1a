import type { ProbeRow, TunnelRow } from '../api/telemetry';
import { LiveTelemetry } from './live-telemetry';

const probe = (seq: number, lost: boolean, ts = 1000 + seq): ProbeRow => ({ ts, src: 'n1', dst: 'n2', path: 'direct', seq, rttUs: lost ? null : 500 + seq, lost, jitterUs: 7 });
const tunnel = (up: boolean, ts = 1000): TunnelRow => ({ ts, src: 'n1', dst: 'n2', rxBytes: 10, txBytes: 20, handshakeAgeS: up ? 3 : null, up });

describe('LiveTelemetry', () => {
  it('has no loss figure for a path with tunnel rows but no probe rows yet (no data, not 0 %)', () => {
    const live = new LiveTelemetry({ clock: () => 2000 });
    live.addTunnels([tunnel(true)]);
    expect(live.snapshot()).toEqual([
      expect.objectContaining({ src: 'n1', dst: 'n2', up: true, handshakeAgeS: 3, rttUs: null, loss: null, lastSeq: null, path: null }),
    ]);
  });

  it('takes loss over the last `window` probe rows and keeps the newest RTT', () => {
    const live = new LiveTelemetry({ window: 5, clock: () => 2000 });
    live.addProbes([probe(1, false), probe(2, true)]);
    expect(live.snapshot()[0]).toMatchObject({ loss: 0.5, rttUs: 501, lastSeq: 2 });
    live.addProbes([3, 4, 5, 6].map((s) => probe(s, false)));
    expect(live.snapshot()[0]).toMatchObject({ loss: 0.2, rttUs: 506, lastSeq: 6 });
    live.addProbes([probe(7, false)]); // the lost row slides out of the 5-row window
    expect(live.snapshot()[0]!.loss).toBe(0);
  });

  it('carries the path of the newest probe row, so the console can label relayed tunnels', () => {
    const live = new LiveTelemetry({ clock: () => 2000 });
    live.addProbes([probe(1, false)]);
    expect(live.snapshot()[0]!.path).toBe('direct');
    live.addProbes([{ ...probe(3, false), path: 'n3' }, probe(2, false)]); // seq 2 arrives late: the newest is still 3
    expect(live.snapshot()[0]!.path).toBe('n3');
  });

  it('takes each newer tunnel row even when the same batch has newer probe rows (probes are stamped when sent)', () => {
    const live = new LiveTelemetry({ clock: () => 20_000 });
    // The first sample came before the handshake: down, no age.
    live.addProbes([probe(1, false, 900)]);
    live.addTunnels([tunnel(false, 1000)]);
    expect(live.snapshot()[0]).toMatchObject({ up: false, handshakeAgeS: null });
    // Later batches as the controller's telemetry route folds them: probes first, then tunnels,
    // and probes sent after the tunnel sample (5000) are newer than it.
    for (const at of [5000, 10_000, 15_000]) {
      live.addProbes([probe(at / 10, false, at - 400), probe(at / 10 + 1, false, at + 300)]);
      live.addTunnels([{ ...tunnel(true, at), handshakeAgeS: (at - 4000) / 1000 }]);
      expect(live.snapshot()[0]).toMatchObject({ up: true, handshakeAgeS: (at - 4000) / 1000, updatedAt: at + 300 });
    }
    // A tunnel row older than the newest one taken (a retried batch) does not go back in time.
    live.addTunnels([tunnel(false, 12_000)]);
    expect(live.snapshot()[0]).toMatchObject({ up: true, handshakeAgeS: 11 });
  });
});
