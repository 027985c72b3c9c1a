import type { WgDeviceInfo } from '../../wg/types';
import { FIXED_STATUS } from '../testing/agent-status-fixture';
import { renderLabStatus } from './lab-status-command';

describe('renderLabStatus', () => {
  it('summarises the controller and each node, including one that is down', () => {
    const out = renderLabStatus({
      controller: { url: 'http://198.18.0.1:4000', pid: 10, running: true, healthy: true },
      nodes: [
        { name: 'n1', pid: 11, running: true, status: FIXED_STATUS, error: null },
        { name: 'n2', pid: 12, running: false, status: null, error: 'agent socket /x is unreachable (ENOENT)' },
      ],
    });
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toBe('controller  http://198.18.0.1:4000  healthy (pid 10)');
    expect(lines[2]).toMatch(/^NODE\s+AGENT\s+OVERLAY\s+MAP\s+TUNNELS\s+MEAN RTT\s+CONTROLLER$/);
    // One of two peers has a handshake; only n2 has an RTT (0.412 ms).
    expect(lines[3]).toMatch(/^n1\s+up \(11\)\s+100\.64\.0\.1\s+v7 controller\s+1\/2\s+0\.412 ms\s+connected$/);
    expect(lines[4]).toMatch(/^n2\s+stopped\s+-\s+-\s+-\s+-\s+agent socket \/x is unreachable \(ENOENT\)$/);
  });

  it("shows the lab's Prometheus under the controller when there is one", () => {
    const out = renderLabStatus({
      controller: { url: 'http://198.18.0.1:4000', pid: 10, running: true, healthy: true },
      prometheus: { url: 'http://127.0.0.1:9090', pid: 20, running: true, ready: true, targetsUp: 3, targets: 4 },
      nodes: [{ name: 'n1', pid: 11, running: true, status: FIXED_STATUS, error: null }],
    });
    const lines = out.trimEnd().split('\n');
    expect(lines[1]).toBe('prometheus  http://127.0.0.1:9090  ready, 3/4 targets up (pid 20)');
    expect(lines[3]).toMatch(/^NODE\s+AGENT/);
  });
});

describe('renderLabStatus: devices', () => {
  const device: WgDeviceInfo = {
    driver: 'wireguard-go',
    binary: '/usr/local/lib/trellis/wireguard-go',
    version: 'v0.0.20250522',
    moduleVersion: 'v0.0.0-20260522210424-ecfc5a8d5446',
    commit: 'ecfc5a8d5446',
    pid: 1,
    offloads: { vnetHdr: true, txChecksum: true, tso4: true, tso6: true, uso: true },
    fallback: null,
  };
  const node = (name: string, d: WgDeviceInfo | null) => ({
    name,
    pid: 11,
    running: true,
    status: { ...FIXED_STATUS, node: { ...FIXED_STATUS.node, name }, device: d },
    error: null,
  });

  it('groups the nodes by the build their device runs, one line per build', () => {
    const debian = { ...device, binary: '/usr/bin/wireguard-go', version: 'v0.0.20220316', moduleVersion: null, commit: null, offloads: { vnetHdr: false, txChecksum: false, tso4: false, tso6: false, uso: false }, fallback: 'x' };
    const out = renderLabStatus({
      controller: { url: 'http://198.18.0.1:4000', pid: 10, running: true, healthy: true },
      nodes: [node('n1', device), node('n2', debian), node('n3', { ...device, pid: 3 }), node('n4', null)],
    });
    const tail = out.trimEnd().split('\n').slice(-2);
    expect(tail).toEqual([
      'devices     n1, n3: wireguard-go v0.0.20250522 (commit ecfc5a8d5446), offloads TSO, USO, checksum, /usr/local/lib/trellis/wireguard-go',
      'devices     n2: wireguard-go v0.0.20220316, offloads off, /usr/bin/wireguard-go (fallback: x)',
    ]);
  });

  it('says which builds carry disco, so a lab where a node cannot do NAT traversal shows it', () => {
    const trellisWg: WgDeviceInfo = {
      ...device,
      driver: 'trellis-wg',
      binary: '/usr/local/lib/trellis/trellis-wg',
      version: 'v0.1.0',
      disco: { available: true, socket: '/var/run/wireguard/trlwg1.ctl', reason: null },
    };
    const upstream: WgDeviceInfo = { ...device, disco: { available: false, socket: null, reason: 'no control socket' } };
    const out = renderLabStatus({
      controller: { url: 'http://198.18.0.1:4000', pid: 10, running: true, healthy: true },
      nodes: [node('n1', trellisWg), node('n2', { ...trellisWg, pid: 2, disco: { ...trellisWg.disco!, socket: '/var/run/wireguard/trlwg2.ctl' } }), node('n3', upstream)],
    });
    expect(out.trimEnd().split('\n').slice(-2)).toEqual([
      'devices     n1, n2: trellis-wg v0.1.0 (wireguard-go commit ecfc5a8d5446), offloads TSO, USO, checksum, disco, /usr/local/lib/trellis/trellis-wg',
      'devices     n3: wireguard-go v0.0.20250522 (commit ecfc5a8d5446), offloads TSO, USO, checksum, no disco, /usr/local/lib/trellis/wireguard-go',
    ]);
  });
});

describe('renderLabStatus: the underlay', () => {
  it('lists addresses, configured and measured NAT, relays and impaired pairs before the devices', () => {
    const out = renderLabStatus({
      controller: { url: 'http://198.18.0.1:4000', pid: 10, running: true, healthy: true },
      nodes: [{ name: 'n1', pid: 11, running: true, status: FIXED_STATUS, error: null }],
      network: {
        stun: ['198.18.0.1:3478', '198.18.0.2:3478'],
        nodes: [
          { name: 'n1', underlays: ['198.18.0.11'], privateAddress: '10.1.0.2', natConfigured: 'easy', natMeasured: 'easy', natReason: 'r', relay: false },
          { name: 'n3', underlays: ['198.18.0.13'], privateAddress: null, natConfigured: null, natMeasured: 'open', natReason: 'r', relay: true },
          { name: 'n4', underlays: ['198.18.0.14', '198.19.0.14'], privateAddress: null, natConfigured: null, natMeasured: null, natReason: null, relay: false },
        ],
        impairments: [{ a: 'n1', b: 'n4', delayMs: 40, jitterMs: 5, lossPct: 5 }],
      },
    });
    const lines = out.trimEnd().split('\n');
    const at = lines.indexOf('stun        udp 198.18.0.1:3478, 198.18.0.2:3478');
    expect(at).toBeGreaterThan(3);
    expect(lines[at + 1]).toMatch(/^NODE\s+UNDERLAY\s+NAT CONFIGURED\s+NAT MEASURED\s+RELAY$/);
    expect(lines[at + 2]).toMatch(/^n1\s+198\.18\.0\.11 \(node 10\.1\.0\.2\)\s+easy\s+easy\s+-$/);
    expect(lines[at + 3]).toMatch(/^n3\s+198\.18\.0\.13\s+none\s+open\s+yes$/);
    expect(lines[at + 4]).toMatch(/^n4\s+198\.18\.0\.14 198\.19\.0\.14\s+none\s+-\s+-$/);
    expect(lines[at + 5]).toBe('impaired    n1–n4: +40 ms ±5 ms round trip, 5 % loss');
  });
});
