import type { ProbeRow } from '../../api/telemetry';
import { TelemetryBuffer } from './telemetry-buffer';

const probe = (seq: number): ProbeRow => ({ ts: 1_700_000_000_000 + seq, src: 'a', dst: 'b', path: 'direct', seq, rttUs: 100, lost: false, jitterUs: 0 });
let ids = 0;
const newId = () => `b${++ids}`;

describe('TelemetryBuffer', () => {
  it('delivers sealed batches oldest first and keeps a batch id across retries', () => {
    const buf = new TelemetryBuffer({ maxRows: 100, maxBatchRows: 10, newId });
    for (let i = 1; i <= 5; i++) buf.addProbe(probe(i));
    buf.seal();
    for (let i = 6; i <= 8; i++) buf.addProbe(probe(i));
    buf.seal();
    const first = buf.next()!;
    expect(first.probes.map((p) => p.seq)).toEqual([1, 2, 3, 4, 5]);
    buf.release(); // the post failed
    const retry = buf.next()!;
    expect(retry.batchId).toBe(first.batchId);
    expect(retry.attempts).toBe(2);
    buf.ack(retry.batchId);
    const second = buf.next()!;
    expect(second.batchId).not.toBe(first.batchId);
    expect(second.probes.map((p) => p.seq)).toEqual([6, 7, 8]);
    buf.ack(second.batchId);
    expect(buf.next()).toBeNull();
    expect(buf.stats()).toMatchObject({ queuedRows: 0, deliveredBatches: 2, deliveredRows: 8, droppedRows: 0 });
  });

  it('cuts batches at maxBatchRows', () => {
    const buf = new TelemetryBuffer({ maxRows: 100, maxBatchRows: 4, newId });
    for (let i = 1; i <= 10; i++) buf.addProbe(probe(i));
    buf.seal();
    expect(buf.stats().queuedBatches).toBe(3);
    expect(buf.next()!.probes).toHaveLength(4);
  });

  it('drops the oldest rows past its bound, never the batch in flight, and counts them', () => {
    const buf = new TelemetryBuffer({ maxRows: 10, maxBatchRows: 4, newId });
    for (let i = 1; i <= 4; i++) buf.addProbe(probe(i));
    const inflight = buf.next()!; // seqs 1..4, being sent
    for (let i = 5; i <= 16; i++) buf.addProbe(probe(i));
    const st = buf.stats();
    expect(st.queuedRows).toBe(10);
    expect(st.droppedRows).toBe(6);
    buf.ack(inflight.batchId);
    buf.seal();
    const rest: number[] = [];
    for (let b = buf.next(); b; b = buf.next()) {
      rest.push(...b.probes.map((p) => p.seq));
      buf.ack(b.batchId);
    }
    // 5..10 were the oldest not in flight: dropped; order of the rest is kept.
    expect(rest).toEqual([11, 12, 13, 14, 15, 16]);
  });

  it('seals plugin rows by plugin name beside probes, and trims them last when full', () => {
    const buf = new TelemetryBuffer({ maxRows: 5, maxBatchRows: 10, newId });
    buf.addProbe(probe(1));
    buf.addPluginRows('shaping-tc', [{ class: 'a' }, { class: 'b' }]);
    buf.addPluginRows('other', [{ n: 1 }]);
    buf.addProbe(probe(2));
    buf.addPluginRows('shaping-tc', [{ class: 'c' }, { class: 'd' }]);
    expect(buf.stats()).toMatchObject({ queuedRows: 5, droppedRows: 2 });
    buf.seal();
    const b = buf.next()!;
    expect(b.probes).toEqual([]);
    expect(b.plugins).toEqual({ other: [{ n: 1 }], 'shaping-tc': [{ class: 'a' }, { class: 'b' }, { class: 'c' }, { class: 'd' }] });
    buf.ack(b.batchId);
    expect(buf.stats()).toMatchObject({ queuedRows: 0, deliveredRows: 5 });
  });

  it('discards a refused batch and counts its rows as dropped', () => {
    const buf = new TelemetryBuffer({ newId });
    buf.addProbe(probe(1));
    buf.seal();
    const b = buf.next()!;
    buf.discard(b.batchId);
    expect(buf.next()).toBeNull();
    expect(buf.stats().droppedRows).toBe(1);
  });

  it('refuses a bound that is not a positive integer', () => {
    expect(() => new TelemetryBuffer({ maxRows: 0 })).toThrow(/maxRows/);
  });
});

describe('TelemetryBuffer: relay samples', () => {
  it('carries them in the batch beside probes, counted as rows', () => {
    const buf = new TelemetryBuffer({ maxRows: 100, maxBatchRows: 10, newId });
    const relay = { ts: 1_700_000_000_000, src: 'r1', port: 3479, forwardedPackets: 10, forwardedBytes: 1000, droppedPackets: 1, droppedNotAllowed: 1, nodes: 2, sessions: 2 };
    buf.addProbe(probe(1));
    buf.addRelay(relay);
    buf.seal();
    const b = buf.next()!;
    expect(b.relays).toEqual([relay]);
    expect(b.probes).toHaveLength(1);
    buf.ack(b.batchId);
    expect(buf.stats()).toMatchObject({ queuedRows: 0, deliveredRows: 2 });
  });
});
