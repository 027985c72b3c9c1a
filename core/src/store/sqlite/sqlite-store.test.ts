import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SQLITE_MIGRATIONS } from './migrations';
import { hashSecret } from '../secret-hash';
import { SqliteStore } from './sqlite-store';
import type { EnrollInput } from '../store';

let dir: string;
const stores: SqliteStore[] = [];
const open = (opts: Partial<ConstructorParameters<typeof SqliteStore>[0]> = {}) => {
  const s = new SqliteStore({ dataDir: dir, ...opts });
  stores.push(s);
  return s;
};
const key32 = (n: number) => Buffer.alloc(32, n).toString('base64');
const NOW = 1_700_000_000_000;

async function addKey(s: SqliteStore, id: string, secret: string, over: { reusable?: boolean; expiresAt?: number; nodeTtlMs?: number | null } = {}) {
  return s.createAuthKey(
    { id, secretHash: hashSecret(secret), tags: ['tag:test'], user: null, reusable: over.reusable ?? true, createdAt: NOW, expiresAt: over.expiresAt ?? NOW + 3600_000, nodeTtlMs: over.nodeTtlMs ?? null },
    { action: 'admin.key.created', actor: 'admin', target: id },
  );
}

const enrollInput = (n: number, over: Partial<EnrollInput> = {}): EnrollInput => ({
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

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-store-'));
});
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SqliteStore', () => {
  it('records migrations once and keeps the file private', async () => {
    const s = open();
    expect(s.schemaVersions()).toEqual(SQLITE_MIGRATIONS.map((m) => m.version));
    await s.close();
    const again = open();
    expect(again.schemaVersions()).toEqual(SQLITE_MIGRATIONS.map((m) => m.version));
    expect(statSync(join(dir, 'trellis.db')).mode & 0o777).toBe(0o600);
    const raw = new Database(join(dir, 'trellis.db'), { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
  });

  it('refuses a database from a newer schema', async () => {
    const s = open();
    await s.close();
    const raw = new Database(join(dir, 'trellis.db'));
    raw.prepare('INSERT INTO schema_migrations VALUES (99, ?, 0)').run('future');
    raw.close();
    expect(() => open()).toThrow(/schema version 99/);
  });

  it('keeps auth keys only as hashes', async () => {
    const s = open();
    await addKey(s, 'k1', 'the-plaintext-secret-value');
    const raw = new Database(join(dir, 'trellis.db'), { readonly: true });
    const row = raw.prepare('SELECT * FROM auth_keys').get() as Record<string, unknown>;
    raw.close();
    expect(row.secret_hash).toBe(hashSecret('the-plaintext-secret-value'));
    expect(Object.values(row)).not.toContain('the-plaintext-secret-value');
  });

  it('allocates unique addresses that survive a reopen, and never reuses a revoked node\'s', async () => {
    let s = open();
    await addKey(s, 'k1', 's1');
    const a = (await s.enrollNode(enrollInput(1))).node;
    const b = (await s.enrollNode(enrollInput(2))).node;
    expect([a.ipv4, b.ipv4]).toEqual(['100.64.0.1', '100.64.0.2']);
    expect([a.ipv6, b.ipv6]).toEqual(['fd7a:7e11:5000::1', 'fd7a:7e11:5000::2']);
    await s.revokeNode(b.id, NOW, { action: 'node.revoked', actor: 'admin', target: b.id });
    await s.close();
    s = open();
    expect((await s.getNode(a.id))?.ipv4).toBe('100.64.0.1');
    const c = (await s.enrollNode(enrollInput(3))).node;
    expect(c.ipv4).toBe('100.64.0.3');
    const all = await s.listNodes();
    expect(new Set(all.map((n) => n.ipv4)).size).toBe(3);
    // Re-enrolling the same identity returns the same node and address.
    const again = await s.enrollNode(enrollInput(3, { newNodeId: 'nzzzz' }));
    expect(again.outcome).toBe('reenrolled');
    expect(again.node.id).toBe(c.id);
  });

  it('fails cleanly when the pool is exhausted and refuses a changed prefix', async () => {
    const s = open({ ipv4Cidr: '10.77.0.0/30', ipv6Prefix: 'fd00:77::/48' });
    await addKey(s, 'k1', 's1');
    await s.enrollNode(enrollInput(1));
    await s.enrollNode(enrollInput(2));
    const before = (await s.listAuthKeys())[0].uses;
    await expect(s.enrollNode(enrollInput(3))).rejects.toMatchObject({ code: 'TRELLIS_ERR_ADDRESS_POOL_EXHAUSTED' });
    expect((await s.listAuthKeys())[0].uses).toBe(before);
    expect(await s.listNodes()).toHaveLength(2);
    expect((await s.listAudit(100)).filter((e) => e.action === 'node.enrolled')).toHaveLength(2);
    await s.close();
    expect(() => open({ ipv4Cidr: '10.78.0.0/24', ipv6Prefix: 'fd00:77::/48' })).toThrow(/allocates from 10\.77\.0\.0\/30/);
  });

  it('applies the auth key rules inside the transaction', async () => {
    const s = open();
    await addKey(s, 'k1', 's1', { reusable: false });
    await addKey(s, 'k2', 's2', { expiresAt: NOW - 1 });
    await expect(s.enrollNode(enrollInput(1, { secret: 'wrong' }))).rejects.toMatchObject({ code: 'TRELLIS_ERR_ENROLL_KEY_UNKNOWN' });
    await expect(s.enrollNode(enrollInput(1, { keyId: 'nope' }))).rejects.toMatchObject({ code: 'TRELLIS_ERR_ENROLL_KEY_UNKNOWN' });
    await expect(s.enrollNode(enrollInput(1, { keyId: 'k2', secret: 's2' }))).rejects.toMatchObject({ code: 'TRELLIS_ERR_ENROLL_KEY_EXPIRED' });
    await s.enrollNode(enrollInput(1));
    await expect(s.enrollNode(enrollInput(2))).rejects.toMatchObject({ code: 'TRELLIS_ERR_ENROLL_KEY_USED' });
    await expect(s.enrollNode(enrollInput(1, { wgKey: key32(9) }))).rejects.toMatchObject({ code: 'TRELLIS_ERR_KEY_IN_USE' });
    expect((await s.listAuthKeys()).find((k) => k.id === 'k1')?.uses).toBe(1);
  });

  it('refuses a second live node with the same name but replaces an expired one', async () => {
    const s = open();
    await addKey(s, 'k1', 's1', { nodeTtlMs: 1000 });
    const first = (await s.enrollNode(enrollInput(1))).node;
    await expect(s.enrollNode(enrollInput(2, { name: 'node-1' }))).rejects.toMatchObject({ code: 'TRELLIS_ERR_NAME_TAKEN' });
    const later = await s.enrollNode(enrollInput(2, { name: 'node-1', now: NOW + 5000 }));
    expect(later.replaced?.id).toBe(first.id);
    expect((await s.getNode(first.id))?.revoked).toBe(true);
  });

  it('keeps the audit log append-only', async () => {
    const s = open();
    await s.appendAudit({ action: 'test.event', actor: 'test', details: { a: 1 } });
    const raw = new Database(join(dir, 'trellis.db'));
    expect(() => raw.prepare("UPDATE audit SET action = 'forged'").run()).toThrow(/append-only/);
    expect(() => raw.prepare('DELETE FROM audit').run()).toThrow(/append-only/);
    raw.close();
    expect((await s.listAudit(10)).map((e) => e.action)).toEqual(['test.event']);
  });

  it('remembers nonces until they expire', async () => {
    const s = open();
    expect(await s.consumeNonce('n1', 'abc', NOW + 10)).toBe(true);
    expect(await s.consumeNonce('n1', 'abc', NOW + 10)).toBe(false);
    expect(await s.consumeNonce('n2', 'abc', NOW + 10)).toBe(true);
    expect(await s.purgeNonces(NOW + 11)).toBe(2);
    expect(readFileSync(join(dir, 'trellis.db')).length).toBeGreaterThan(0);
  });
});
