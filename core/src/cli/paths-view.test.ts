import type { AgentPathsStatus, AgentStatus } from '../wire';
import { renderPaths } from './paths-view';
import { renderAgentStatus, renderPeerTable } from './status-view';
import { FIXED_STATUS, NOW } from './testing/agent-status-fixture';

const PATHS: AgentPathsStatus = {
  available: true,
  reason: null,
  reflexive: ['203.0.113.7:51820'],
  drops: { malformed: 0, notForUs: 0, unknownSender: 0, mac: 0, stale: 0, badBody: 0 },
  relays: [{ relay: 'n3', endpoint: '198.18.0.13:51821', live: true, rttMs: 0.42, observed: '203.0.113.7:51820' }],
  peers: [
    {
      peerId: 'nb',
      peer: 'n2',
      role: 'decides',
      active: 'relay:nc',
      label: 'n3',
      endpoint: '198.18.0.13:51821',
      reason: 'failover: direct:198.18.0.12:51820 dead (no answer for 1.20 s); relay:nc cost 15.6 ms',
      since: NOW - 30_000,
      switches: 2,
      lastSwitch: { at: NOW - 30_000, peerId: 'nb', peerName: 'n2', from: 'direct:198.18.0.12:51820', to: 'relay:nc', label: 'n3', cause: 'dead', reason: 'x' },
      candidates: [
        { id: 'direct:198.18.0.12:51820', kind: 'direct', endpoint: '198.18.0.12:51820', relay: null, learned: false, live: false, rttMs: 0.31, loss: 1, jitterMs: 0.02, costMs: 100.3, lastReplyAgoMs: 31_000, deaths: 1, heldDownMs: 0 },
        { id: 'relay:nc', kind: 'relay', endpoint: '198.18.0.13:51821', relay: 'n3', learned: false, live: true, rttMs: 0.6, loss: 0, jitterMs: 0.04, costMs: 15.6, lastReplyAgoMs: 120, deaths: 0, heldDownMs: 0 },
      ],
    },
  ],
};

describe('renderPaths', () => {
  it('shows the path in use, who decides, why, and every candidate with its figures', () => {
    const out = renderPaths({ ...FIXED_STATUS, paths: PATHS }, NOW);
    expect(out).toContain('n2: n3 (relay:nc) for 30s; this node decides, 2 switches\n');
    expect(out).toContain('  why: failover: direct:198.18.0.12:51820 dead');
    expect(out).toContain('  last switch: 30s ago, direct:198.18.0.12:51820 → relay:nc (dead)\n');
    expect(out).toMatch(/\n\s+direct\s+198\.18\.0\.12:51820\s+dead, died 1×\s+0\.31 ms\s+100\.0%/);
    expect(out).toMatch(/\n {2}\*\s+relay n3\s+198\.18\.0\.13:51821\s+live\s+0\.60 ms\s+0\.0%\s+0\.04 ms\s+15\.6 ms\s+just now/);
    expect(out).toContain('reflexive address: 203.0.113.7:51820');
    expect(out).toMatch(/n3\s+198\.18\.0\.13:51821\s+live\s+0\.42 ms\s+203\.0\.113\.7:51820/);
  });

  it("names how the peer learned a direct address other than a local one", () => {
    const peer = PATHS.peers[0]!;
    const uplink = { ...peer.candidates[0]!, id: 'direct:198.19.0.12:51820', endpoint: '198.19.0.12:51820', endpointKind: 'uplink' as const };
    const out = renderPaths({ ...FIXED_STATUS, paths: { ...PATHS, peers: [{ ...peer, candidates: [{ ...peer.candidates[0]!, endpointKind: 'local' }, uplink] }] } }, NOW);
    expect(out).toMatch(/\n\s+direct\s+198\.18\.0\.12:51820/);
    expect(out).toMatch(/\n\s+direct \(uplink\)\s+198\.19\.0\.12:51820/);
  });

  it('says when the device holds another endpoint than the chosen path, and how often it was written back', () => {
    const peer = PATHS.peers[0]!;
    const drifted = renderPaths({ ...FIXED_STATUS, paths: { ...PATHS, peers: [{ ...peer, deviceEndpoint: '198.18.0.12:51820', endpointReasserts: 2 }] } }, NOW);
    expect(drifted).toContain('  device endpoint: 198.18.0.12:51820, not the chosen 198.18.0.13:51821 (WireGuard roamed; written back if it stays)\n');
    expect(drifted).toContain('  endpoint written back 2× (the device had roamed onto another path)\n');
    const agreeing = renderPaths({ ...FIXED_STATUS, paths: { ...PATHS, peers: [{ ...peer, deviceEndpoint: '198.18.0.13:51821', endpointReasserts: 0 }] } }, NOW);
    expect(agreeing).not.toContain('device endpoint');
    expect(agreeing).not.toContain('written back');
  });

  it('shows the NAT STUN classified, and that a hard one keeps the reflexive addresses from being advertised', () => {
    const nat = { type: 'hard' as const, reason: 'the mapping depends on the destination: 198.18.0.1:3478 saw 198.18.0.14:1024, 198.18.0.2:3478 saw 198.18.0.14:1025', mappings: { '198.18.0.1:3478': '198.18.0.14:1024', '198.18.0.2:3478': '198.18.0.14:1025' }, at: NOW, advertisesReflexive: false };
    const out = renderPaths({ ...FIXED_STATUS, paths: { ...PATHS, reflexive: ['198.18.0.14:1024', '198.18.0.14:1025'], nat } }, NOW);
    expect(out).toContain('  reflexive address: 198.18.0.14:1024, 198.18.0.14:1025 (not advertised: behind a hard NAT each is valid only toward whoever saw it)\n');
    expect(out).toContain('  NAT: hard: the mapping depends on the destination: 198.18.0.1:3478 saw 198.18.0.14:1024');
    const easy = renderPaths({ ...FIXED_STATUS, paths: { ...PATHS, nat: { ...nat, type: 'easy', reason: 'endpoint-independent mapping: 2 servers all saw 203.0.113.7:51820', advertisesReflexive: true } } }, NOW);
    expect(easy).toContain('  reflexive address: 203.0.113.7:51820\n');
    expect(easy).toContain('  NAT: easy: endpoint-independent mapping');
    expect(renderAgentStatus({ ...FIXED_STATUS, paths: { ...PATHS, nat } }, NOW)).toContain('\nnat         hard (a mapping per destination); reflexive addresses not advertised, pairs that cannot punch use a relay\n');
    expect(renderAgentStatus({ ...FIXED_STATUS, paths: PATHS }, NOW)).not.toContain('\nnat ');
  });

  it('says why there is no path choice with a device that cannot do it', () => {
    const out = renderPaths({ ...FIXED_STATUS, paths: { ...PATHS, available: false, reason: 'wireguard-go has no control socket', peers: [], relays: [], reflexive: [] } }, NOW);
    expect(out).toContain('path choice is unavailable: wireguard-go has no control socket; peers use the endpoints of the map');
  });

  it('says when an agent is too old to report paths', () => {
    const { paths: _none, ...old } = { ...FIXED_STATUS, paths: undefined };
    expect(renderPaths(old as AgentStatus, NOW)).toContain('does not report paths');
  });
});

describe('renderPeerTable path column', () => {
  it('adds PATH when the agent reports each peer\'s path', () => {
    const s: AgentStatus = { ...FIXED_STATUS, peers: FIXED_STATUS.peers.map((p) => ({ ...p, path: p.name === 'n2' ? 'direct' : 'n4' })) };
    const lines = renderPeerTable(s, NOW).split('\n');
    expect(lines[0]).toMatch(/^PEER\s+ADDRESS\s+PATH\s+ENDPOINT\s+HANDSHAKE/);
    expect(lines[1]).toMatch(/^n2\s+100\.64\.0\.2\s+direct\s+198\.18\.0\.12:51820/);
    expect(lines[2]).toMatch(/^n3\s+100\.64\.0\.3\s+n4\s+-/);
  });
});
