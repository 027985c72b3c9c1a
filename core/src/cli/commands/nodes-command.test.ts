import type { NodeView } from '../../wire';
import { renderNodeTable } from './nodes-command';

const node = (name: string, relay: NodeView['relay']): NodeView => ({
  id: `id-${name}`,
  name,
  hostname: name,
  user: null,
  tags: [],
  wgKey: 'k',
  identityKey: 'i',
  addresses: { ipv4: '100.64.0.1', ipv6: 'fd7a::1' },
  endpoints: ['198.18.0.13:51820'],
  online: true,
  lastSeen: 1000,
  createdAt: 0,
  expiresAt: null,
  revoked: false,
  revokedAt: null,
  facts: null,
  posture: null,
  approved: true,
  wgKeyCreatedAt: 0,
  keyRotationIntervalMs: 0,
  rotateRequestedAt: null,
  identityExpiresAt: null,
  relay,
});

describe('trellis nodes', () => {
  it('has a RELAY column: the relay port of relays, - for the rest', () => {
    const lines = renderNodeTable([node('n3', { port: 51821 }), node('n1', null)], 2000).trimEnd().split('\n');
    expect(lines[0]).toMatch(/\sENDPOINTS\s+RELAY\s+TAGS$/);
    expect(lines[1]).toMatch(/^n1\s.*198\.18\.0\.13:51820\s+-\s+-$/);
    expect(lines[2]).toMatch(/^n3\s.*198\.18\.0\.13:51820\s+udp\/51821\s+-$/);
  });

  it('shows each endpoint but local ones with its kind', () => {
    const n: NodeView = {
      ...node('n1', null),
      endpoints: ['198.18.0.13:51820', '198.19.0.13:51820', '203.0.113.7:40001'],
      candidates: [
        { kind: 'local', address: '198.18.0.13:51820', learnedAt: 1, source: 'eth0' },
        { kind: 'uplink', address: '198.19.0.13:51820', learnedAt: 1, source: 'eth1' },
        { kind: 'reflexive', address: '203.0.113.7:40001', learnedAt: 2, source: 'stun 198.51.100.1:3478' },
      ],
    };
    const line = renderNodeTable([n], 2000).trimEnd().split('\n')[1]!;
    expect(line).toContain('198.18.0.13:51820 198.19.0.13:51820 (uplink) 203.0.113.7:40001 (reflexive)');
  });
});
