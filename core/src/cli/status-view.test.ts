import type { AgentStatus } from '../wire';
import { FIXED_STATUS, NOW } from './testing/agent-status-fixture';
import { formatPeerLoss, renderAgentStatus, renderPeerTable } from './status-view';

describe('renderAgentStatus', () => {
  it('renders the node block and a peer table sorted by name', () => {
    expect(renderAgentStatus(FIXED_STATUS, NOW)).toBe(
      [
        'node        n1 (node-1)',
        'interface   trlwg1, port 51820',
        'addresses   100.64.0.1, fd7a:7e11:5000::1',
        'key         kX3mV0qkT4o8cUj0cQ0Vt3F0m7bqgqS6bO1Wk1q9eWc=',
        'map         v7 from controller, applied 12s ago',
        'controller  http://198.18.0.1:8080 (connected)',
        '',
        'PEER  ADDRESS     ENDPOINT           HANDSHAKE  RX / TX              RTT       LOSS  JITTER',
        'n2    100.64.0.2  198.18.0.12:51820  3s ago     1.50 KiB / 2.00 MiB  0.412 ms  5.0%  0.037 ms',
        'n3    100.64.0.3  -                  never      0 B / 148 B          -         -     -',
        '',
      ].join('\n'),
    );
  });

  it('says when the controller is away and the map came from the cache', () => {
    const s: AgentStatus = {
      ...FIXED_STATUS,
      controller: { url: 'http://198.18.0.1:8080', connected: false, lastError: 'ECONNREFUSED' },
      map: { version: 7, epoch: 'e1', source: 'cache', appliedAt: null },
      peers: [],
    };
    const out = renderAgentStatus(s, NOW);
    expect(out).toContain('map         v7 from cache\n');
    expect(out).toContain('controller  http://198.18.0.1:8080 (not connected: ECONNREFUSED)\n');
    expect(out.endsWith('no peers\n')).toBe(true);
  });

  it('says "no reply" for a peer that never answered a probe, never 0.0 %', () => {
    const base = FIXED_STATUS.peers.find((p) => p.name === 'n2')!;
    const s: AgentStatus = {
      ...FIXED_STATUS,
      peers: [{ ...base, lastHandshake: null, probe: { ...base.probe!, rttUs: null, loss: null, sent: 0, received: 0, early: 12, replied: false } }],
    };
    const table = renderPeerTable(s, NOW);
    expect(table).toContain('no reply');
    expect(table).not.toContain('%');
  });
});

describe('formatPeerLoss', () => {
  const probe = { peerId: 'p', peerName: 'p', rttUs: 400, jitterUs: 0, sent: 10, received: 10, early: 2 };
  it('reads the loss of a peer that answered, "-" before a counted probe settled, "no reply" before any answer', () => {
    expect(formatPeerLoss(null)).toBe('-');
    expect(formatPeerLoss({ ...probe, loss: null, replied: false })).toBe('no reply');
    expect(formatPeerLoss({ ...probe, loss: null, replied: true })).toBe('-');
    expect(formatPeerLoss({ ...probe, loss: 0, replied: true })).toBe('0.0%');
    expect(formatPeerLoss({ ...probe, loss: 0.2, replied: true })).toBe('20.0%');
  });
});

describe('renderAgentStatus: the device line', () => {
  const current = {
    driver: 'wireguard-go',
    binary: '/usr/local/lib/trellis/wireguard-go',
    version: 'v0.0.20250522',
    moduleVersion: 'v0.0.0-20260522210424-ecfc5a8d5446',
    commit: 'ecfc5a8d5446',
    pid: 4242,
    offloads: { vnetHdr: true, txChecksum: true, tso4: true, tso6: true, uso: true },
    fallback: null,
  };

  it('names the build, binary and pid, and the TUN offloads in force', () => {
    const out = renderAgentStatus({ ...FIXED_STATUS, device: current }, NOW);
    expect(out).toContain(
      'interface   trlwg1, port 51820\n' +
        'device      wireguard-go v0.0.20250522 (commit ecfc5a8d5446), /usr/local/lib/trellis/wireguard-go, pid 4242\n' +
        'offloads    TSO, USO, checksum\n' +
        'addresses   ',
    );
  });

  it("says why a node runs Debian's build, and that its TUN has no offloads", () => {
    const debian = {
      ...current,
      binary: '/usr/bin/wireguard-go',
      version: 'v0.0.20220316',
      moduleVersion: null,
      commit: null,
      offloads: { vnetHdr: false, txChecksum: false, tso4: false, tso6: false, uso: false },
      fallback: 'the current build is not installed at /usr/local/lib/trellis/wireguard-go (run scripts/setup.sh to build it)',
    };
    const out = renderAgentStatus({ ...FIXED_STATUS, device: debian }, NOW);
    expect(out).toContain(
      'device      wireguard-go v0.0.20220316, /usr/bin/wireguard-go, pid 4242\n' +
        'offloads    off\n' +
        '            fallback: the current build is not installed at /usr/local/lib/trellis/wireguard-go (run scripts/setup.sh to build it)\n',
    );
  });

  it('says what it does not know: no process found, offloads unreadable', () => {
    const out = renderAgentStatus({ ...FIXED_STATUS, device: { ...current, binary: null, version: null, commit: null, pid: null, offloads: null } }, NOW);
    expect(out).toContain('device      wireguard-go (version unknown), binary not found\noffloads    unknown\n');
  });
});

describe('renderAgentStatus: a trellis-wg device', () => {
  const trellisWg = {
    driver: 'trellis-wg',
    binary: '/usr/local/lib/trellis/trellis-wg',
    version: 'v0.1.0',
    moduleVersion: 'v0.0.0-20260522210424-ecfc5a8d5446',
    commit: 'ecfc5a8d5446',
    pid: 4242,
    offloads: { vnetHdr: true, txChecksum: true, tso4: true, tso6: true, uso: true },
    fallback: null,
    disco: { available: true, socket: '/var/run/wireguard/trlwg1.ctl', reason: null },
  };

  it('names trellis-wg, the wireguard-go commit it links, and that disco is available', () => {
    const out = renderAgentStatus({ ...FIXED_STATUS, device: trellisWg }, NOW);
    expect(out).toContain(
      'device      trellis-wg v0.1.0 (wireguard-go commit ecfc5a8d5446), /usr/local/lib/trellis/trellis-wg, pid 4242\n' +
        'offloads    TSO, USO, checksum\n' +
        'disco       available (/var/run/wireguard/trlwg1.ctl)\n',
    );
  });

  it('says what is lost on upstream wireguard-go', () => {
    const upstream = {
      ...trellisWg,
      driver: 'wireguard-go',
      binary: '/usr/local/lib/trellis/wireguard-go',
      version: 'v0.0.20250522',
      fallback: 'trellis-wg is not installed at /usr/local/lib/trellis/trellis-wg (run scripts/setup.sh to build it); NAT traversal, candidate probes and relays are unavailable',
      disco: { available: false, socket: null, reason: 'wireguard-go has no control socket; NAT traversal, candidate probes and relays are unavailable (they need trellis-wg)' },
    };
    expect(renderAgentStatus({ ...FIXED_STATUS, device: upstream }, NOW)).toContain(
      'device      wireguard-go v0.0.20250522 (commit ecfc5a8d5446), /usr/local/lib/trellis/wireguard-go, pid 4242\n' +
        'offloads    TSO, USO, checksum\n' +
        '            fallback: trellis-wg is not installed at /usr/local/lib/trellis/trellis-wg (run scripts/setup.sh to build it); NAT traversal, candidate probes and relays are unavailable\n' +
        'disco       unavailable: wireguard-go has no control socket; NAT traversal, candidate probes and relays are unavailable (they need trellis-wg)\n',
    );
  });
});

describe('renderAgentStatus: a relay node', () => {
  const relay = { port: 3479, running: true, pairs: 3, nodes: 2, sessions: 4, forwardedPackets: 1200, forwardedBytes: 1_572_864, drops: { notAllowed: 5, unknownSource: 2 }, error: null };

  it('shows what the relay serves, forwarded and dropped, by reason', () => {
    const text = renderAgentStatus({ ...FIXED_STATUS, relay } as AgentStatus, NOW);
    expect(text).toContain('\nrelay       port 3479, 3 pairs, 2 nodes, 4 sessions; forwarded 1200 packets (1.50 MiB), dropped 7 (notAllowed 5, unknownSource 2)\n');
  });

  it('says why an offered relay does not run, and shows nothing for a node that is no relay', () => {
    const down = renderAgentStatus({ ...FIXED_STATUS, relay: { ...relay, running: false, error: 'trellis-wg is not installed, so it cannot relay' } } as AgentStatus, NOW);
    expect(down).toContain('\nrelay       port 3479, not running: trellis-wg is not installed, so it cannot relay\n');
    expect(renderAgentStatus({ ...FIXED_STATUS, relay: null } as AgentStatus, NOW)).not.toContain('relay ');
  });
});

describe('renderAgentStatus: topology roles', () => {
  it('shows a spoke\'s hub and marks hub peers, a hub\'s forwarding, and nothing in a plain mesh', () => {
    const spoke = { ...FIXED_STATUS, topology: { role: 'spoke', via: 'n1', transit: ['100.64.0.0/10', 'fd7a:7e11:5000::/48'], forwarding: false } } as AgentStatus;
    expect(renderAgentStatus(spoke, NOW)).toContain('\ntopology    spoke: direct with the peers below; every other node (100.64.0.0/10, fd7a:7e11:5000::/48) via hub n1\n');
    const onDemand = { ...FIXED_STATUS, topology: { ...spoke.topology!, onDemand: { candidates: 98, staged: 1, open: 2 } } } as AgentStatus;
    expect(renderAgentStatus(onDemand, NOW)).toContain('via hub n1\non demand   2 open, 1 staged of 98 remote spokes (end to end through the hub relay while they talk)\n');
    expect(renderAgentStatus(spoke, NOW)).not.toContain('on demand');
    const hub = { ...FIXED_STATUS, topology: { role: 'hub', via: null, transit: [], forwarding: true } } as AgentStatus;
    expect(renderAgentStatus(hub, NOW)).toContain('\ntopology    hub: forwards between spokes\n');
    const mesh = { ...FIXED_STATUS, topology: { role: 'mesh', via: null, transit: [], forwarding: false } } as AgentStatus;
    expect(renderAgentStatus(mesh, NOW)).not.toContain('topology');
    const marked = { ...FIXED_STATUS, peers: FIXED_STATUS.peers.map((p, i) => (i === 0 ? { ...p, hub: true } : p)) } as AgentStatus;
    expect(renderAgentStatus(marked, NOW)).toContain(`${FIXED_STATUS.peers[0]!.name} (hub)`);
  });
});
