/**
 * Fixtures shared by the agent's unit tests: a fake but well-formed WireGuard key and a peer entry
 * whose addresses and endpoint follow from a small index.
 */
import type { PeerNode } from '../../netmap/types';

/** fakeKey makes a 32-byte base64 key from one character, distinct per character. */
export const fakeKey = (c: string): string => c.repeat(43).slice(0, 43) + '=';

/** fakePeer is peer n: 100.64.0.n, fd7a:7e11:5000::n, endpoint 198.18.0.n:51820. */
export function fakePeer(id: string, n: number): PeerNode {
  return {
    id,
    name: `node-${id}`,
    wgKey: fakeKey(id.toUpperCase()),
    addresses: { ipv4: `100.64.0.${n}`, ipv6: `fd7a:7e11:5000::${n}` },
    endpoints: [`198.18.0.${n}:51820`],
    allowedIps: [`100.64.0.${n}/32`, `fd7a:7e11:5000::${n}/128`],
    tags: [],
    user: null,
    online: true,
    lastSeen: null,
  };
}
