import type { AuthKeyRecord, NodeRecord } from '../store/store';
import { candidatesOf } from './candidate-report';
import { rotationIntervalFor, type KeyPolicy } from './key-policy';
import type { Presence } from './presence';
import type { AuthKeyView, NodeView } from '../wire';

/** toNodeView is what admins see of a node: everything but secrets, with live presence. */
export function toNodeView(node: NodeRecord, presence: Presence, keys: KeyPolicy): NodeView {
  return {
    id: node.id,
    name: node.name,
    hostname: node.hostname,
    user: node.user,
    tags: node.tags,
    wgKey: node.wgKey,
    identityKey: node.identityKey,
    addresses: { ipv4: node.ipv4, ipv6: node.ipv6 },
    endpoints: node.endpoints,
    candidates: candidatesOf(node),
    online: !node.revoked && presence.isOnline(node.id),
    lastSeen: presence.lastSeen(node.id, node.lastSeen),
    createdAt: node.createdAt,
    expiresAt: node.expiresAt,
    revoked: node.revoked,
    revokedAt: node.revokedAt,
    facts: node.facts,
    posture: node.posture,
    approved: node.approved !== false,
    wgKeyCreatedAt: node.wgKeyCreatedAt ?? node.createdAt,
    keyRotationIntervalMs: rotationIntervalFor(keys, node.tags),
    rotateRequestedAt: node.rotateRequestedAt ?? null,
    identityExpiresAt: node.identityExpiresAt ?? null,
    relay: node.relay ? { port: node.relay.port } : null,
  };
}

/** toAuthKeyView shows an auth key without its hash. */
export function toAuthKeyView(key: AuthKeyRecord): AuthKeyView {
  return {
    id: key.id,
    tags: key.tags,
    user: key.user,
    reusable: key.reusable,
    uses: key.uses,
    createdAt: key.createdAt,
    expiresAt: key.expiresAt,
    revoked: key.revoked,
  };
}
