/** Fixtures of the store contract: keys, an auth key, and enrolment inputs numbered by node. */
import { hashSecret } from '../secret-hash';
import type { EnrollInput, Store } from '../store';

export const key32 = (n: number) => Buffer.alloc(32, n).toString('base64');
export const NOW = 1_700_000_000_000;

export async function addKey(s: Store, id: string, secret: string, over: { reusable?: boolean; expiresAt?: number; nodeTtlMs?: number | null; tags?: string[] } = {}) {
  return s.createAuthKey(
    { id, secretHash: hashSecret(secret), tags: over.tags ?? ['tag:test'], user: null, reusable: over.reusable ?? true, createdAt: NOW, expiresAt: over.expiresAt ?? NOW + 3600_000, nodeTtlMs: over.nodeTtlMs ?? null },
    { action: 'admin.key.created', actor: 'admin', target: id },
  );
}

export const enrollInput = (n: number, over: Partial<EnrollInput> = {}): EnrollInput => ({
  keyId: 'k1',
  secret: 's1',
  newNodeId: `n${String(n).padStart(4, '0')}`,
  name: `node-${n}`,
  hostname: `host-${n}`,
  wgKey: key32(n),
  identityKey: key32(100 + n),
  endpoints: ['192.0.2.1:51820'],
  now: NOW,
  actor: 'test',
  ...over,
});

