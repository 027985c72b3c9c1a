/**
 * The telemetry the dashboard tests load, and the time ranges and template variables they expand
 * the queries with (shared by dashboards-queries on 18.16 and clickhouse-current on chDB, so both
 * engines answer over the same rows).
 */
import type { AlertCondition, MacroContext } from '@trellis/plugin-dashboards-grafana';
import type { TelemetryBatch } from '@trellis/plugin-telemetry-clickhouse';

export const DASHBOARD_NODES = ['n1', 'n2', 'n3', 'n4', 'n5'];

/**
 * dashboardDataSet is realistic telemetry for five nodes over the two hours before `now` (a whole
 * minute, epoch ms), with a few things wrong on purpose: n2→n4 slow, n3→n1 lossy, n1→n5 jittery,
 * n2→n3's handshake stale, class 1:20 on n1 dropping, n4 non-compliant and quarantined, n5 offline,
 * 30 failed logins from 203.0.113.66.
 */
export function dashboardDataSet(now: number): TelemetryBatch[] {
  const batches: TelemetryBatch[] = [];
  const start = now - 2 * 3_600_000;
  let seq = 0;
  for (let m = 0; m < 120; m += 10) {
    const probes: NonNullable<TelemetryBatch['probes']> = [];
    for (let k = 0; k < 10; k++) {
      const minute = start + (m + k) * 60_000;
      for (const src of DASHBOARD_NODES) {
        for (const dst of DASHBOARD_NODES) {
          if (src === dst) continue;
          for (let i = 0; i < 6; i++) {
            const at = minute + i * 10_000;
            const slow = src === 'n2' && dst === 'n4'; // p95 over the 150 ms default
            const lossy = src === 'n3' && dst === 'n1' && i === 0; // ~17 % loss
            const jittery = src === 'n1' && dst === 'n5'; // 40 ms jitter
            const rtt = (slow ? 180_000 : 8_000 + ((seq * 7919) % 4000)) + i * 100;
            probes.push({ at, src, dst, path: dst === 'n5' ? 'relay-r1' : 'direct', seq: seq++, rttUs: lossy ? null : rtt, lost: lossy, jitterUs: jittery ? 40_000 : 1_500 });
          }
        }
      }
    }
    const at = start + (m + 9) * 60_000;
    batches.push({
      batchId: `dash-${m}`,
      probes,
      tunnels: DASHBOARD_NODES.flatMap((node) =>
        DASHBOARD_NODES.filter((p) => p !== node).map((peer) => ({
          at,
          node,
          peer,
          rxBytes: 1_000_000 * (m + 1) + peer.charCodeAt(1) * 1000,
          txBytes: 800_000 * (m + 1),
          handshakeAgeS: node === 'n2' && peer === 'n3' ? 400 : 40,
        })),
      ),
      shaping: ['1:10', '1:20'].flatMap((classId) => Array.from({ length: 10 }, (_, k) => ({
        at: start + (m + k) * 60_000 + 30_000,
        node: 'n1',
        iface: 'trellis0',
        classId,
        bytes: 5_000_000 * (m + k + 1),
        packets: 4000 * (m + k + 1),
        drops: classId === '1:20' ? 600 * (m + k) : 0,
        overlimits: 10 * (m + k),
        backlog: 1500,
      }))),
      // n3 relays for others: its forwarder's counters grow every minute.
      relays: [{ at, node: 'n3', port: 3479, forwardedPackets: 90_000 * (m + 1), forwardedBytes: 120_000_000 * (m + 1), droppedPackets: 40 * m, droppedNotAllowed: 10 * m, nodes: 4, sessions: 6 }],
      posture: DASHBOARD_NODES.map((node) => ({ at, node, compliant: node !== 'n4', reasons: node === 'n4' ? ['disk not encrypted', 'os outdated'] : [], policyVersion: 'v7' })),
    });
  }
  batches.push({
    batchId: 'dash-events',
    nodeEvents: [
      ...DASHBOARD_NODES.map((node) => ({ at: start, node, kind: 'join' as const })),
      { at: now - 30 * 60_000, node: 'n5', kind: 'offline' as const },
      { at: now - 20 * 60_000, node: 'n4', kind: 'quarantine' as const, details: { reason: 'posture' } },
    ],
    audit: [
      { at: now - 50 * 60_000, action: 'admin.key.created', actor: 'admin', details: { reusable: false } },
      { at: now - 40 * 60_000, action: 'auth.failure', actor: 'node:unknown', target: '198.51.100.7', details: { code: 'TRELLIS_ERR_AUTH_BAD_SIGNATURE' } },
      { at: now - 10 * 60_000, action: 'node.revoked', actor: 'admin', target: 'n6' },
      { at: now - 35 * 60_000, action: 'node.routes.advertised', actor: 'node:n2', target: 'n2', details: { prefixes: ['10.20.0.0/24'] } },
      { at: now - 34 * 60_000, action: 'route.approved', actor: 'policy', target: 'n2', details: { prefix: '10.20.0.0/24', kind: 'subnet' } },
      { at: now - 15 * 60_000, action: 'route.primary.moved', actor: 'controller', target: 'n3', details: { prefix: '10.20.0.0/24', from: 'n2', to: 'n3', reason: 'route check failed' } },
      { at: now - 12 * 60_000, action: 'conn.exit.switched', actor: 'node:n1', target: 'n4', details: { from: 'n3', to: 'n4', reason: 'exit node n3 is offline', name: 'n1', peer: 'n4', reportedAt: now - 12 * 60_000 } },
      // Connection events agents reported: n1's pair with n5 moved onto relay r1, n2's to another address of n3.
      { at: now - 90 * 60_000, action: 'conn.relay.switched', actor: 'node:n1', target: 'n5', details: { from: 'direct', to: 'relay:r1', fromEndpoint: '198.18.0.5:51820', toEndpoint: '198.18.0.9:51821', name: 'n1', peer: 'n5', reportedAt: now - 90 * 60_000 } },
      { at: now - 20 * 60_000, action: 'conn.path.switched', actor: 'node:n2', target: 'n3', details: { from: 'direct', to: 'direct', fromEndpoint: '198.18.0.3:51820', toEndpoint: '198.19.0.3:51820', name: 'n2', peer: 'n3', reportedAt: now - 20 * 60_000 } },
      // A password-guessing burst from 203.0.113.66: ten failures audited one by one, then the controller's summary of its window.
      ...Array.from({ length: 10 }, (_, i) => ({ at: now - 4 * 60_000 + i * 1000, action: 'auth.failure', actor: 'remote:203.0.113.66', details: { code: 'TRELLIS_ERR_ADMIN_UNAUTHORIZED', remote: '203.0.113.66', route: 'POST /console/login' } })),
      { at: now - 3 * 60_000, action: 'auth.failure.summary', actor: 'remote:203.0.113.66', details: { remote: '203.0.113.66', count: 30, auditedOneByOne: 10, rateLimited: 400, codes: { TRELLIS_ERR_ADMIN_UNAUTHORIZED: 30 } } },
      { at: now - 5 * 60_000, action: 'audit.checkpoint', actor: 'controller', details: { upTo: 40, head: 'x', signature: 'y' } },
      { at: now - 2 * 60_000, action: 'conn.tunnel.up', actor: 'node:id1', target: 'id2', details: { name: 'n1', peer: 'n2', handshakeAgeS: 3 } },
    ],
  });
  return batches;
}

/**
 * DASHBOARD_FIRING is what each alert rule fires for on this data set over the alert context's
 * window (dashboardAlertContext): the label columns of every row above the rule's threshold, joined
 * with "/". The same on every ClickHouse the suite runs the queries on.
 */
export const DASHBOARD_FIRING: Record<string, string[]> = {
  'trellis-tunnel-down': ['n2/n3'],
  'trellis-path-loss': ['n3/n1/direct'],
  'trellis-path-rtt-p95': ['n2/n4/direct'],
  'trellis-realtime-jitter': ['n1/n5/relay-r1'],
  // Every pair towards n5 probes over relay-r1 for the whole data set.
  'trellis-pair-relayed': ['n1/n5', 'n2/n5', 'n3/n5', 'n4/n5'],
  'trellis-node-offline': ['n5'],
  'trellis-posture': ['n4'],
  'trellis-telemetry-stalled': [],
  'trellis-telemetry-lag': ['probe_samples'],
  'trellis-auth-failure-burst': ['203.0.113.66'],
  'trellis-peer-spike': [],
  'trellis-audit-unsigned': [],
  'trellis-shaping-drops': ['n1/trellis0/1:20'],
  // n3's forwarder drops 40 datagrams a minute in the data set.
  'trellis-relay-drops': ['n3'],
};

/** dashboardLateBlock is a block whose row is 10 minutes old when it lands, in a block of its own: what a spool replay looks like. */
export function dashboardLateBlock(now: number): TelemetryBatch {
  return { batchId: 'dash-late', probes: [{ at: now - 10 * 60_000, src: 'n1', dst: 'n2', path: 'direct', seq: 999_999, rttUs: 9000, lost: false, jitterUs: 1000 }] };
}

/** dashboardPanelContext is the three hours up to a minute after `now`, at Grafana's 60 s interval, with every variable set. */
export function dashboardPanelContext(now: number): MacroContext {
  return {
    from: now - 3 * 3_600_000,
    to: now + 60_000,
    intervalMs: 60_000,
    variables: { node: 'n1', peer: ['n2', 'n3', 'n5'], path: ['direct', 'relay-r1'], class: ['1:10', '1:20'], action: ['admin.key.created', 'auth.failure', 'node.revoked'] },
  };
}

/** dashboardNodeVariable: single-node dashboards look at n1, the multi-node ones at the whole mesh. */
export function dashboardNodeVariable(dashboardUid: string): string | string[] {
  return dashboardUid === 'trellis-node-detail' || dashboardUid === 'trellis-traffic-shaping' ? 'n1' : DASHBOARD_NODES;
}

/** dashboardAlertContext is an alert rule's own window, ending a minute after `now`. */
export function dashboardAlertContext(now: number, c: AlertCondition): MacroContext {
  return { from: now + 60_000 - c.windowSeconds * 1000, to: now + 60_000, intervalMs: 60_000 };
}
