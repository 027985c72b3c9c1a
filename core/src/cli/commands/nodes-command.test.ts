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
});
