/**
 * The store contract: what every Store backend must do, run against SQLite by the unit tests
 * (sqlite/sqlite-store.test.ts) and against PostgreSQL by test/pg-store.e2e.test.ts, through a
 * StoreHarness. Tests of one backend's own files (SQLite's WAL and file mode) stay beside it.
 */
import { hashSecret } from '../secret-hash';
import type { Store } from '../store';
import { addKey, enrollInput, key32, NOW } from './store-fixtures';
import type { HarnessOpenOptions, StoreHarness } from './store-harness';
import { defineAuditChainContract } from './audit-chain-contract';
import { defineNodeKeysContract } from './node-keys-contract';
import { defineSharedStoreContract } from './shared-store-contract';
import { defineRouteStoreContract } from './route-store-contract';

/** defineStoreContract registers the whole contract for one backend. */
export function defineStoreContract(h: StoreHarness): void {
  const open = (opts: HarnessOpenOptions = {}) => h.open(opts);

  beforeEach(() => h.fresh());
  afterAll(() => h.dispose());

  describe(`Store contract (${h.backend})`, () => {
    it('records migrations once', async () => {
      const s = await open();
      expect(await s.schemaVersions()).toEqual(h.migrations.map((m) => m.version));
      await s.close();
      const again = await open();
      expect(await again.schemaVersions()).toEqual(h.migrations.map((m) => m.version));
    });

    it('refuses a database from a newer schema', async () => {
      const s = await open();
      await s.close();
      await h.exec('INSERT INTO schema_migrations VALUES (99, ?, 0)', ['future']);
      await expect(open()).rejects.toThrow(/schema version 99/);
    });

    it('keeps auth keys only as hashes', async () => {
      const s = await open();
      await addKey(s, 'k1', 'the-plaintext-secret-value');
      const [row] = await h.all<Record<string, unknown>>('SELECT * FROM auth_keys');
      expect(row!.secret_hash).toBe(hashSecret('the-plaintext-secret-value'));
      expect(Object.values(row!)).not.toContain('the-plaintext-secret-value');
    });

    it("allocates unique addresses that survive a reopen, and never reuses a revoked node's", async () => {
      let s = await open();
      await addKey(s, 'k1', 's1');
      const a = (await s.enrollNode(enrollInput(1))).node;
      const b = (await s.enrollNode(enrollInput(2))).node;
      expect([a.ipv4, b.ipv4]).toEqual(['100.64.0.1', '100.64.0.2']);
      expect([a.ipv6, b.ipv6]).toEqual(['fd7a:7e11:5000::1', 'fd7a:7e11:5000::2']);
      await s.revokeNode(b.id, NOW, { action: 'node.revoked', actor: 'admin', target: b.id });
      await s.close();
      s = await open();
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
      const s = await open({ ipv4Cidr: '10.77.0.0/30', ipv6Prefix: 'fd00:77::/48' });
      await addKey(s, 'k1', 's1');
      await s.enrollNode(enrollInput(1));
      await s.enrollNode(enrollInput(2));
      const before = (await s.listAuthKeys())[0]!.uses;
      await expect(s.enrollNode(enrollInput(3))).rejects.toMatchObject({ code: 'TRELLIS_ERR_ADDRESS_POOL_EXHAUSTED' });
      expect((await s.listAuthKeys())[0]!.uses).toBe(before);
      expect(await s.listNodes()).toHaveLength(2);
      expect((await s.listAudit(100)).filter((e) => e.action === 'node.enrolled')).toHaveLength(2);
      await s.close();
      await expect(open({ ipv4Cidr: '10.78.0.0/24', ipv6Prefix: 'fd00:77::/48' })).rejects.toThrow(/allocates from 10\.77\.0\.0\/30/);
    });

    it('fills the pool to its last address, and finds holes from the cursor on, wrapping around', async () => {
      const s = await open({ ipv4Cidr: '10.79.0.0/29', ipv6Prefix: 'fd00:79::/48' });
      await addKey(s, 'k1', 's1');
      for (let i = 1; i <= 6; i++) await s.enrollNode(enrollInput(i));
      expect((await s.listNodes()).map((n) => n.ipv4).sort()).toEqual(['10.79.0.1', '10.79.0.2', '10.79.0.3', '10.79.0.4', '10.79.0.5', '10.79.0.6']);
      await expect(s.enrollNode(enrollInput(7))).rejects.toMatchObject({ code: 'TRELLIS_ERR_ADDRESS_POOL_EXHAUSTED' });
      // A revoked node keeps its address, so the pool stays full.
      await s.revokeNode('n0003', NOW, { action: 'node.revoked', actor: 'admin', target: 'n0003' });
      await expect(s.enrollNode(enrollInput(7))).rejects.toMatchObject({ code: 'TRELLIS_ERR_ADDRESS_POOL_EXHAUSTED' });
      // Rows an operator deleted by hand leave holes: the cursor (back at 1) finds the first one.
      for (const id of ['n0003', 'n0005']) {
        await h.exec('DELETE FROM node_keys WHERE node_id = ?', [id]);
        await h.exec('DELETE FROM nodes WHERE id = ?', [id]);
      }
      expect((await s.enrollNode(enrollInput(7))).node.ipv4).toBe('10.79.0.3');
      expect((await s.enrollNode(enrollInput(8))).node.ipv4).toBe('10.79.0.5');
      await expect(s.enrollNode(enrollInput(9))).rejects.toMatchObject({ code: 'TRELLIS_ERR_ADDRESS_POOL_EXHAUSTED' });
    });

    it('applies the auth key rules inside the transaction', async () => {
      const s = await open();
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
      const s = await open();
      await addKey(s, 'k1', 's1', { nodeTtlMs: 1000 });
      const first = (await s.enrollNode(enrollInput(1))).node;
      await expect(s.enrollNode(enrollInput(2, { name: 'node-1' }))).rejects.toMatchObject({ code: 'TRELLIS_ERR_NAME_TAKEN' });
      const later = await s.enrollNode(enrollInput(2, { name: 'node-1', now: NOW + 5000 }));
      expect(later.replaced?.id).toBe(first.id);
      expect((await s.getNode(first.id))?.revoked).toBe(true);
    });

    it('keeps the audit log append-only', async () => {
      const s = await open();
      await s.appendAudit({ action: 'test.event', actor: 'test', details: { a: 1 } });
      await expect(h.exec("UPDATE audit SET action = 'forged'")).rejects.toThrow(/append-only/);
      await expect(h.exec('DELETE FROM audit')).rejects.toThrow(/append-only/);
      expect((await s.listAudit(10)).map((e) => e.action)).toEqual(['test.event']);
    });

    it('remembers nonces until they expire', async () => {
      const s = await open();
      expect(await s.consumeNonce('n1', 'abc', NOW + 10)).toBe(true);
      expect(await s.consumeNonce('n1', 'abc', NOW + 10)).toBe(false);
      expect(await s.consumeNonce('n2', 'abc', NOW + 10)).toBe(true);
      expect(await s.purgeNonces(NOW + 11)).toBe(2);
    });

    it('records endpoint candidates with the endpoints, and only when either changes', async () => {
      const s = await open();
      await addKey(s, 'k1', 's1');
      const { node } = await s.enrollNode(enrollInput(1));
      expect((await s.getNode(node.id))!.candidates ?? null).toBeNull();
      const candidates = [
        { kind: 'local' as const, address: '192.0.2.9:51820', learnedAt: NOW, source: 'eth0' },
        { kind: 'reflexive' as const, address: '203.0.113.7:40001', learnedAt: NOW + 5, source: 'stun 198.51.100.1:3478' },
      ];
      expect(await s.setEndpoints(node.id, ['192.0.2.9:51820', '203.0.113.7:40001'], candidates)).toBe(true);
      expect(await s.setEndpoints(node.id, ['192.0.2.9:51820', '203.0.113.7:40001'], candidates)).toBe(false);
      expect((await s.getNode(node.id))!).toMatchObject({ endpoints: ['192.0.2.9:51820', '203.0.113.7:40001'], candidates });
      // Only the candidates change (a new learnedAt): stored.
      expect(await s.setEndpoints(node.id, ['192.0.2.9:51820', '203.0.113.7:40001'], [candidates[0]!, { ...candidates[1]!, learnedAt: NOW + 9 }])).toBe(true);
      expect((await s.getNode(node.id))!.candidates![1]!.learnedAt).toBe(NOW + 9);
      // Addresses only again (a version-1 report): the candidates are cleared with them.
      expect(await s.setEndpoints(node.id, ['192.0.2.9:51820'], null)).toBe(true);
      expect((await s.getNode(node.id))!.candidates ?? null).toBeNull();
    });

    it('records endpoints, facts, the relay port and lastSeen only when they change', async () => {
      const s = await open();
      await addKey(s, 'k1', 's1');
      const { node } = await s.enrollNode(enrollInput(1));
      expect(await s.setEndpoints(node.id, ['192.0.2.1:51820'])).toBe(false);
      expect(await s.setEndpoints(node.id, ['192.0.2.9:51820', '198.51.100.1:51820'])).toBe(true);
      const facts = { os: { name: 'debian', version: '12' } } as unknown as Parameters<Store['setFacts']>[1];
      expect(await s.setFacts(node.id, facts, null)).toBe(true);
      expect(await s.setFacts(node.id, facts, null)).toBe(false);
      expect(await s.setFacts(node.id, facts, { compliant: false, reasons: ['old os'] })).toBe(true);
      expect(await s.setRelay(node.id, { port: 51821 })).toBe(true);
      expect(await s.setRelay(node.id, { port: 51821 })).toBe(false);
      await s.touchNode(node.id, NOW + 50);
      await s.touchNode(node.id, NOW + 10);
      expect(await s.getNode(node.id)).toMatchObject({ endpoints: ['192.0.2.9:51820', '198.51.100.1:51820'], facts, posture: { compliant: false, reasons: ['old os'] }, lastSeen: NOW + 50, relay: { port: 51821 } });
    });

    it('keeps users, groups and memberships, and revokes what a removed user owned in one step', async () => {
      const s = await open();
      const audit = (action: string) => ({ at: NOW, action, actor: 'admin' });
      await s.addUser('bob', NOW, audit('user.added'));
      await expect(s.addUser('bob', NOW, audit('user.added'))).rejects.toMatchObject({ code: 'TRELLIS_ERR_ALREADY_EXISTS' });
      await s.createAuthKey(
        { id: 'ka', secretHash: hashSecret('sa'), tags: [], user: 'alice', reusable: true, createdAt: NOW, expiresAt: NOW + 3600_000, nodeTtlMs: null },
        audit('admin.key.created'),
      );
      await s.addGroup('eng', NOW, audit('group.added'));
      await s.addGroup('Ops', NOW, audit('group.added'));
      await s.addGroupMember('eng', 'alice', NOW, audit('group.member.added'));
      await s.addGroupMember('eng', 'bob', NOW, audit('group.member.added'));
      await s.addGroupMember('eng', 'bob', NOW, audit('group.member.added'));
      await s.addGroupMember('Ops', 'bob', NOW, audit('group.member.added'));
      await expect(s.addGroupMember('eng', 'carol', NOW, audit('x'))).rejects.toMatchObject({ code: 'TRELLIS_ERR_NOT_FOUND' });
      expect(await s.listUsers()).toEqual([
        { name: 'alice', groups: ['eng'], createdAt: NOW },
        { name: 'bob', groups: ['Ops', 'eng'], createdAt: NOW },
      ]);
      expect((await s.listGroups()).map((g) => [g.name, g.members])).toEqual([
        ['Ops', ['bob']],
        ['eng', ['alice', 'bob']],
      ]);
      expect(await s.userGroups()).toEqual({ alice: ['eng'], bob: ['Ops', 'eng'] });
      await s.enrollNode(enrollInput(1, { keyId: 'ka', secret: 'sa' }));
      const removed = await s.removeUser('alice', NOW + 1, audit('user.removed'));
      expect(removed.revokedNodes.map((n) => n.name)).toEqual(['node-1']);
      expect(removed.revokedKeys).toEqual(['ka']);
      expect((await s.listNodes())[0]).toMatchObject({ revoked: true, revokedAt: NOW + 1 });
      expect((await s.listAuthKeys())[0]).toMatchObject({ id: 'ka', revoked: true });
      expect((await s.listGroups()).find((g) => g.name === 'eng')?.members).toEqual(['bob']);
      await s.removeGroupMember('eng', 'bob', audit('group.member.removed'));
      await expect(s.removeGroupMember('eng', 'bob', audit('x'))).rejects.toMatchObject({ code: 'TRELLIS_ERR_NOT_FOUND' });
      expect(await s.removeGroup('Ops', audit('group.removed'))).toMatchObject({ name: 'Ops', members: ['bob'] });
      expect((await s.listAudit(100)).find((e) => e.action === 'user.removed')?.details).toMatchObject({ revokedNodes: ['node-1'], revokedKeys: ['ka'], groups: ['eng'] });
    });

    it('activates, lists and rolls back policy versions atomically, keeping each bundle', async () => {
      const s = await open();
      const v = (n: number) => ({ version: `v${n}`.padEnd(64, String(n)), file: `policies/v${n}.tgz`, size: 10 * n, source: `dir${n}`, createdAt: NOW + n });
      const act = (n: number, kind: string) => ({ at: NOW + n, actor: 'admin', kind });
      const audit = (n: number) => ({ at: NOW + n, action: 'policy.activated', actor: 'admin', target: v(n).version });
      expect(await s.activePolicy()).toBeNull();
      await expect(s.rollbackPolicy({ at: NOW, actor: 'admin' }, () => audit(0))).rejects.toMatchObject({ code: 'TRELLIS_ERR_POLICY_NO_PREVIOUS' });
      await s.activatePolicy(v(1), act(1, 'seed'), audit(1), Buffer.from('bundle-one'));
      await s.activatePolicy(v(2), act(2, 'push'), audit(2), Buffer.from('bundle-two'));
      await s.activatePolicy(v(1), act(3, 'push'), audit(3));
      expect(await s.activePolicy()).toMatchObject({ ...v(1), activatedAt: NOW + 3 });
      expect((await s.listPolicyVersions()).map((p) => p.version)).toEqual([v(1).version, v(2).version]);
      expect((await s.listPolicyActivations()).map((a) => [a.version.slice(0, 2), a.kind])).toEqual([
        ['v1', 'seed'],
        ['v2', 'push'],
        ['v1', 'push'],
      ]);
      expect((await s.policyBundle(v(2).version))?.toString()).toBe('bundle-two');
      expect(await s.policyBundle('nope')).toBeNull();
      const back = await s.rollbackPolicy({ at: NOW + 4, actor: 'admin' }, (from, to) => ({ action: 'policy.rolledBack', actor: 'admin', details: { from, to } }));
      expect(back).toMatchObject({ from: v(1).version, to: v(2) });
      expect((await s.activePolicy())?.version).toBe(v(2).version);
      expect((await s.listAudit(10)).map((e) => e.action)).toEqual(['policy.activated', 'policy.activated', 'policy.activated', 'policy.rolledBack']);
    });

    it('keeps settings in meta, with their audit entry in the same step', async () => {
      const s = await open();
      expect(await s.getMeta('settings.x')).toBeNull();
      await s.setMeta('settings.x', 'one');
      await s.setMeta('settings.x', 'two', { action: 'settings.changed', actor: 'admin' });
      expect(await s.getMeta('settings.x')).toBe('two');
      expect((await s.listAudit(10)).map((e) => e.action)).toEqual(['settings.changed']);
    });
  });

  defineAuditChainContract(h);
  defineNodeKeysContract(h);
  defineSharedStoreContract(h);
  defineRouteStoreContract(h);
}
