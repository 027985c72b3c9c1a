/**
 * nodeRecord is node number i's record as enrolment leaves it, for tests that build maps from the
 * store's records: live, with no user, tags, relay, facts or expiry; its id, name,
 * keys, overlay addresses and one endpoint are derived from i, so records of different numbers
 * never collide. `over` sets what a test is about.
 */
import type { NodeRecord } from '../store';
import { NOW } from './store-fixtures';

export function nodeRecord(i: number, over: Partial<NodeRecord> = {}): NodeRecord {
  return {
    id: `n${String(i).padStart(3, '0')}`,
    name: `node-${i}`,
    hostname: `h${i}`,
    user: null,
    tags: [],
    wgKey: `key-${i}`,
    identityKey: `id-${i}`,
    ipv4: `100.64.${i >> 8}.${(i & 255) + 1}`,
    ipv6: `fd7a:7e11:5000::${(i + 1).toString(16)}`,
    endpoints: [`198.18.0.${(i % 250) + 1}:51820`],
    authKeyId: null,
    lastSeen: null,
    createdAt: NOW,
    expiresAt: null,
    revoked: false,
    revokedAt: null,
    facts: null,
    posture: null,
    ...over,
  };
}
