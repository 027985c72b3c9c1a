import type { TelemetryBatch } from '@trellis/core/api';
import { AlertsEngine } from './alerts-engine';
import { AlertStateMachine } from './alert-state';
import { resolveAlertsConfig } from './config';
import type { Observation } from './rules';

const obs = (breaching: boolean, value = 5, extra: Partial<Observation> = {}): Observation => ({
  uid: 'trellis-path-loss',
  title: 'Probe loss above limit',
  labels: { src: 'n1', dst: 'n2', path: 'direct' },
  value,
  threshold: 2,
  breaching,
  forSeconds: 10,
  ...extra,
});

describe('AlertStateMachine', () => {
  test('pending until the for-duration has held, then one firing, then one resolved', () => {
    const m = new AlertStateMachine();
    expect(m.update([obs(true)], 0)).toEqual([]);
    expect(m.activeAlerts()[0]).toMatchObject({ state: 'pending', pendingSince: 0, startsAt: null });
    expect(m.update([obs(true)], 9_999)).toEqual([]);
    const fired = m.update([obs(true, 7)], 10_000);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ status: 'firing', alert: { uid: 'trellis-path-loss', value: 7, threshold: 2, startsAt: new Date(10_000).toISOString() } });
    expect(fired[0]!.alert.endsAt).toBeUndefined();
    // Dedup: still breaching, no second firing.
    expect(m.update([obs(true, 8)], 15_000)).toEqual([]);
    expect(m.update([obs(true, 9)], 60_000)).toEqual([]);
    const resolved = m.update([obs(false, 0)], 61_000);
    expect(resolved).toEqual([{ status: 'resolved', alert: expect.objectContaining({ value: 0, startsAt: new Date(10_000).toISOString(), endsAt: new Date(61_000).toISOString() }) }]);
    expect(m.activeAlerts()).toEqual([]);
    expect(m.recent()).toMatchObject([{ uid: 'trellis-path-loss', startsAt: 10_000, endsAt: 61_000 }]);
    // A new breach starts a new pending period and fires again once it held.
    expect(m.update([obs(true)], 62_000)).toEqual([]);
    expect(m.update([obs(true)], 72_000)).toHaveLength(1);
  });

  test('a pending alert that recovers never notifies; forSeconds 0 fires at once; a vanished instance resolves', () => {
    const m = new AlertStateMachine();
    m.update([obs(true)], 0);
    expect(m.update([obs(false)], 5_000)).toEqual([]);
    expect(m.activeAlerts()).toEqual([]);
    const posture = obs(true, 1, { uid: 'trellis-posture', labels: { node: 'n3' }, forSeconds: 0, threshold: 0 });
    expect(m.update([posture], 6_000)).toMatchObject([{ status: 'firing', alert: { uid: 'trellis-posture' } }]);
    expect(m.update([], 7_000)).toMatchObject([{ status: 'resolved', alert: { uid: 'trellis-posture', endsAt: new Date(7_000).toISOString() } }]);
  });

  test('instances are kept apart by labels', () => {
    const m = new AlertStateMachine();
    const a = obs(true, 5, { forSeconds: 0 });
    const b = obs(true, 5, { forSeconds: 0, labels: { src: 'n1', dst: 'n3', path: 'direct' } });
    expect(m.update([a, b], 0)).toHaveLength(2);
    expect(m.update([a, { ...b, breaching: false }], 1000)).toMatchObject([{ status: 'resolved', alert: { labels: { dst: 'n3' } } }]);
  });
});

describe('AlertsEngine on hook input with a fake clock', () => {
  const probes = (now: number, n: number, lost: boolean) =>
    Array.from({ length: n }, (_, i) => ({ ts: now - (n - 1 - i) * 1000, src: 'n1', dst: 'n2', path: 'direct', seq: i, rttUs: lost ? null : 800, lost, jitterUs: 100 }));
  const batch = (now: number, p: TelemetryBatch['probes']): TelemetryBatch => ({ batchId: `b${now}`, node: 'n1', nodeId: 'id1', sentAt: now, probes: p, tunnels: [] });

  test('loss fires after lossForSeconds and resolves when the window is clean; node offline honours its for', () => {
    let now = 1_000_000;
    const config = resolveAlertsConfig({ thresholds: { lossMaxPercent: 20, lossWindowSeconds: 5, lossForSeconds: 3, nodeOfflineForSeconds: 4 } });
    const e = new AlertsEngine({ config, deliveryFile: null, clock: () => now });
    e.onNodeEvent({ kind: 'online', nodeId: 'id2', nodeName: 'n2', at: now });
    e.onTelemetry(batch(now, probes(now, 5, false)));
    expect(e.evaluate()).toEqual([]);
    now += 1000;
    e.onTelemetry(batch(now, probes(now, 3, true)));
    expect(e.evaluate()).toEqual([]);
    expect(e.view().active).toMatchObject([{ uid: 'trellis-path-loss', state: 'pending' }]);
    now += 3000;
    e.onTelemetry(batch(now, probes(now, 3, true)));
    expect(e.evaluate()).toMatchObject([{ status: 'firing', alert: { uid: 'trellis-path-loss', labels: { src: 'n1', dst: 'n2' }, threshold: 20 } }]);
    e.onNodeEvent({ kind: 'offline', nodeId: 'id2', nodeName: 'n2', at: now });
    now += 6000; // the lost probes left the 5 s window
    e.onTelemetry(batch(now, probes(now, 6, false)));
    expect(e.evaluate()).toMatchObject([{ status: 'resolved', alert: { uid: 'trellis-path-loss' } }]);
    expect(e.view().active).toMatchObject([{ uid: 'trellis-node-offline', state: 'pending' }]);
    now += 3999;
    expect(e.evaluate()).toEqual([]);
    now += 1;
    expect(e.evaluate()).toMatchObject([{ status: 'firing', alert: { uid: 'trellis-node-offline', labels: { node: 'n2' } } }]);
    e.onNodeEvent({ kind: 'online', nodeId: 'id2', nodeName: 'n2', at: now });
    expect(e.evaluate()).toMatchObject([{ status: 'resolved', alert: { uid: 'trellis-node-offline' } }]);
    expect(e.view().recent.map((r) => r.uid)).toEqual(['trellis-node-offline', 'trellis-path-loss']);
    e.stop();
  });

  test('a stale handshake, posture quarantine and shaping drops fire from hook rows', () => {
    let now = 5_000_000;
    const config = resolveAlertsConfig({ thresholds: { handshakeMaxAgeSeconds: 10, tunnelForSeconds: 1, shapingDropsPerSecond: 2, shapingForSeconds: 1, shapingWindowSeconds: 60 } });
    const e = new AlertsEngine({ config, deliveryFile: null, clock: () => now });
    e.onTelemetry({
      batchId: 'x', node: 'n1', nodeId: 'id1', sentAt: now, probes: [],
      tunnels: [{ ts: now, src: 'n1', dst: 'n2', rxBytes: 1, txBytes: 1, handshakeAgeS: 8, up: true }],
      plugins: { 'shaping-tc': [0, 10].map((s) => ({ ts: now - 10_000 + s * 1000, node: 'n1', iface: 'tl1', direction: 'egress' as const, class: '1:10', bytes: 0, packets: 0, drops: s * 5, overlimits: 0, backlog: 0 })) },
    });
    e.onNodeEvent({ kind: 'facts', nodeId: 'id3', nodeName: 'n3', at: now, details: { compliant: false, transition: 'quarantined' } });
    expect(e.evaluate()).toMatchObject([{ status: 'firing', alert: { uid: 'trellis-posture', labels: { node: 'n3' } } }]);
    expect(e.view().active.find((a) => a.uid === 'trellis-shaping-drops')).toMatchObject({ state: 'pending', value: 5 });
    now += 3000; // drops held for 3 s > 1 s: firing; the handshake is now 11 s old: pending
    expect(e.evaluate()).toMatchObject([{ status: 'firing', alert: { uid: 'trellis-shaping-drops', value: 5, threshold: 2 } }]);
    now += 1000;
    expect(e.evaluate()).toMatchObject([{ status: 'firing', alert: { uid: 'trellis-tunnel-down', labels: { node: 'n1', peer: 'n2' }, threshold: 10 } }]);
    e.onNodeEvent({ kind: 'revoked', nodeId: 'id3', nodeName: 'n3', at: now });
    expect(e.evaluate()).toMatchObject([{ status: 'resolved', alert: { uid: 'trellis-posture' } }]);
    e.stop();
  });
});
