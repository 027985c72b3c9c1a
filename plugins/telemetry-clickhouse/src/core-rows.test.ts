import { fromAuditEvents, fromCoreBatch, fromNodeEvent } from './core-rows';
import { toDbRows } from './rows';

describe('core rows → ClickHouse rows', () => {
  it('maps probes, tunnels and shaping and keeps the batch id', () => {
    const b = fromCoreBatch({
      batchId: 'b-1',
      node: 'n1',
      nodeId: 'id1',
      sentAt: 1,
      probes: [{ ts: 1_700_000_000_123, src: 'n1', dst: 'n2', path: 'direct', seq: 1_700_000_000_000_001, rttUs: null, lost: true, jitterUs: 5 }],
      tunnels: [{ ts: 1_700_000_000_000, src: 'n1', dst: 'n2', rxBytes: 10, txBytes: 20, handshakeAgeS: null, up: false }],
      plugins: { 'shaping-tc': [{ ts: 1_700_000_000_000, node: 'n1', iface: 'wg0', direction: 'egress', class: '1:10', bytes: 1, packets: 1, drops: 0, overlimits: 0, backlog: 0 }] },
    });
    const rows = toDbRows(b);
    expect(rows.probe_samples![0]).toMatchObject({ src: 'n1', dst: 'n2', seq: 1_700_000_000_000_001, lost: 1, rtt_us: 0, ts_ms: 1_700_000_000_123 });
    expect(rows.tunnel_stats![0]).toMatchObject({ node: 'n1', peer: 'n2', handshake_age_s: -1, batch_id: 'b-1' });
    expect(rows.shaping_stats![0]).toMatchObject({ class_id: 'egress:1:10' });
  });

  it("maps a relay node's samples to relay_stats rows, and refuses a malformed one", () => {
    const relay = { ts: 1_700_000_000_000, src: 'r1', port: 3479, forwardedPackets: 1200, forwardedBytes: 1_500_000, droppedPackets: 7, droppedNotAllowed: 5, nodes: 2, sessions: 4 };
    const b = fromCoreBatch({ batchId: 'b-r', node: 'r1', nodeId: 'idr', sentAt: 1, probes: [], tunnels: [], relays: [relay] });
    expect(toDbRows(b).relay_stats).toEqual([
      { ts: 1_700_000_000, ts_ms: 1_700_000_000_000, node: 'r1', port: 3479, forwarded_packets: 1200, forwarded_bytes: 1_500_000, dropped_packets: 7, dropped_not_allowed: 5, nodes: 2, sessions: 4, batch_id: 'b-r', row_idx: 0 },
    ]);
    expect(() => toDbRows(fromCoreBatch({ batchId: 'b-x', node: 'r1', nodeId: 'idr', sentAt: 1, probes: [], tunnels: [], relays: [{ ...relay, port: 0 }] }))).toThrow(/relay_stats.*port/);
    expect(toDbRows(fromCoreBatch({ batchId: 'b-n', node: 'n1', nodeId: 'id1', sentAt: 1, probes: [], tunnels: [] })).relay_stats).toBeUndefined();
  });

  it('maps node events enrolled→join, revoked→revoke, online/offline, and skips facts', () => {
    const ev = (kind: 'enrolled' | 'revoked' | 'online' | 'offline' | 'facts') => fromNodeEvent({ kind, nodeId: 'id1', nodeName: 'n1', at: 1_700_000_000_000 }, 'x');
    expect(ev('enrolled')!.nodeEvents![0]!.kind).toBe('join');
    expect(ev('revoked')!.nodeEvents![0]!.kind).toBe('revoke');
    expect(ev('online')!.nodeEvents![0]!.kind).toBe('online');
    expect(ev('offline')!.nodeEvents![0]!.kind).toBe('offline');
    expect(ev('facts')).toBeNull();
  });
});

describe('fromAuditEvents', () => {
  it('maps audit entries to audit rows with seq and hash in details, one batch per seq range', () => {
    const b = fromAuditEvents([
      { seq: 7, at: 1_700_000_000_000, action: 'auth.failure', actor: 'remote:192.0.2.1', target: null, details: { code: 'X' }, hash: 'ab'.repeat(32) },
      { seq: 8, at: 1_700_000_000_001, action: 'conn.tunnel.up', actor: 'node:n1', target: 'n2', details: { peer: 'b' }, hash: null },
    ]);
    expect(b).toEqual({
      batchId: 'audit-7-8',
      audit: [
        { at: 1_700_000_000_000, action: 'auth.failure', actor: 'remote:192.0.2.1', details: { code: 'X', seq: 7, hash: 'ab'.repeat(32) } },
        { at: 1_700_000_000_001, action: 'conn.tunnel.up', actor: 'node:n1', target: 'n2', details: { peer: 'b', seq: 8 } },
      ],
    });
    expect(fromAuditEvents([])).toBeNull();
  });
});
