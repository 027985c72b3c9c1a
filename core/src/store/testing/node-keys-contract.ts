/**
 * The key lifecycle in every backend's node repository: rotation, identity renewal, rotation
 * requests, expiry, and the memory of keys that revoked (or rotated-out) nodes held.
 */
import { hashSecret } from '../secret-hash';
import type { EnrollInput, NodeRecord, Store } from '../store';
import { addKey as addAuthKey, enrollInput, key32, NOW } from './store-fixtures';
import type { HarnessOpenOptions, StoreHarness } from './store-harness';

const DAY = 86_400_000;
const audit = (action: string, target = 'x') => ({ at: NOW, action, actor: 'test', target });

/** addKey adds reusable auth key k1 (secret s1), valid for a day. */
const addKey = (s: Store, over: { nodeTtlMs?: number | null; tags?: string[] } = {}) => addAuthKey(s, 'k1', 's1', { expiresAt: NOW + DAY, ...over });

const lifetimes = () => ({ nodeTtlMs: null, identityLifetimeMs: 90 * DAY });

export function defineNodeKeysContract(h: StoreHarness): void {
  const open = (opts: HarnessOpenOptions = {}) => h.open(opts);

  describe(`node key lifecycle (${h.backend})`, () => {
    it('records when the WireGuard key was registered and when the identity lapses', async () => {
      const s = await open();
      await addKey(s);
      const { node } = await s.enrollNode(enrollInput(1, { lifetimes }));
      expect(node.wgKeyCreatedAt).toBe(NOW);
      expect(node.identityExpiresAt).toBe(NOW + 90 * DAY);
      expect(node.rotateRequestedAt).toBeNull();
      expect(node.expiresAt).toBeNull();
    });

    it('takes the node key expiry from the settings when the auth key names none, and the auth key when it does', async () => {
      const s = await open();
      await addKey(s, { tags: ['tag:server'] });
      const byTag = (tags: readonly string[]) => ({ nodeTtlMs: tags.includes('tag:server') ? 7 * DAY : null, identityLifetimeMs: DAY });
      const { node } = await s.enrollNode(enrollInput(1, { lifetimes: byTag }));
      expect(node.expiresAt).toBe(NOW + 7 * DAY);
      const s2 = await s.createAuthKey(
        { id: 'k2', secretHash: hashSecret('s2'), tags: ['tag:server'], user: null, reusable: true, createdAt: NOW, expiresAt: NOW + DAY, nodeTtlMs: 60_000 },
        { action: 'admin.key.created', actor: 'admin', target: 'k2' },
      );
      const { node: short } = await s.enrollNode(enrollInput(2, { keyId: s2.id, secret: 's2', lifetimes: byTag }));
      expect(short.expiresAt).toBe(NOW + 60_000);
    });

    it('rotates a WireGuard key: new key and time stored, old key retired, request cleared, audited', async () => {
      const s = await open();
      await addKey(s);
      const { node } = await s.enrollNode(enrollInput(1));
      await s.requestKeyRotation([node.id], NOW + 1, (n) => audit('node.key.rotation_requested', n.id));
      expect((await s.getNode(node.id))?.rotateRequestedAt).toBe(NOW + 1);
      const rotated = await s.rotateWgKey(node.id, key32(50), NOW + 10, audit('node.key.rotated', node.id));
      expect(rotated).toMatchObject({ wgKey: key32(50), wgKeyCreatedAt: NOW + 10, rotateRequestedAt: null });
      expect(await s.getNode(node.id)).toMatchObject({ wgKey: key32(50), wgKeyCreatedAt: NOW + 10, rotateRequestedAt: null });
      // Registering the key it already holds (a retry after a lost answer) changes nothing.
      const again = await s.rotateWgKey(node.id, key32(50), NOW + 20, audit('node.key.rotated', node.id));
      expect(again.wgKeyCreatedAt).toBe(NOW + 10);
      // The old key never comes back: not for this node, not for a new one.
      await expect(s.rotateWgKey(node.id, key32(1), NOW + 30, audit('node.key.rotated'))).rejects.toMatchObject({ code: 'TRELLIS_ERR_KEY_RETIRED' });
      await expect(s.enrollNode(enrollInput(2, { wgKey: key32(1) }))).rejects.toMatchObject({ code: 'TRELLIS_ERR_KEY_RETIRED' });
      expect((await s.listAudit(50)).filter((e) => e.action === 'node.key.rotated')).toHaveLength(1);
    });

    it('refuses another node\'s key and leaves everything as it was', async () => {
      const s = await open();
      await addKey(s);
      const a = (await s.enrollNode(enrollInput(1))).node;
      const b = (await s.enrollNode(enrollInput(2))).node;
      const auditBefore = (await s.listAudit(100)).length;
      await expect(s.rotateWgKey(a.id, b.wgKey, NOW + 1, audit('node.key.rotated'))).rejects.toMatchObject({ code: 'TRELLIS_ERR_KEY_IN_USE' });
      await expect(s.renewIdentity(a.id, b.identityKey, NOW + DAY, NOW + 1, audit('node.identity.renewed'))).rejects.toMatchObject({ code: 'TRELLIS_ERR_KEY_IN_USE' });
      expect(await s.getNode(a.id)).toEqual(a);
      expect((await s.listAudit(100)).length).toBe(auditBefore);
    });

    it('renews an identity: new key, new expiry, old key retired', async () => {
      const s = await open();
      await addKey(s);
      const { node } = await s.enrollNode(enrollInput(1, { lifetimes }));
      const renewed = await s.renewIdentity(node.id, key32(150), NOW + 100 * DAY, NOW + DAY, audit('node.identity.renewed', node.id));
      expect(renewed).toMatchObject({ identityKey: key32(150), identityExpiresAt: NOW + 100 * DAY });
      expect(await s.getNode(node.id)).toMatchObject({ identityKey: key32(150), identityExpiresAt: NOW + 100 * DAY });
      await expect(s.renewIdentity(node.id, node.identityKey, NOW + DAY, NOW + DAY, audit('x'))).rejects.toMatchObject({ code: 'TRELLIS_ERR_KEY_RETIRED' });
    });

    it('revocation revokes every key the node ever held; none of them enrolls again', async () => {
      const s = await open();
      await addKey(s);
      const { node } = await s.enrollNode(enrollInput(1));
      await s.rotateWgKey(node.id, key32(60), NOW + 1, audit('node.key.rotated'));
      await s.revokeNode(node.id, NOW + 2, audit('node.revoked', node.id));
      const tries: Array<Partial<EnrollInput>> = [
        { wgKey: key32(60) }, // its WireGuard key when revoked
        { wgKey: key32(1), identityKey: key32(200) }, // its first, rotated-out WireGuard key
        { identityKey: key32(101), wgKey: key32(70) }, // its identity key with a fresh WireGuard key
      ];
      for (const over of tries) {
        await expect(s.enrollNode(enrollInput(1, { newNodeId: 'nnew', ...over, now: NOW + 3 }))).rejects.toMatchObject({ code: 'TRELLIS_ERR_KEY_REVOKED' });
      }
      expect((await s.listNodes()).map((n) => n.id)).toEqual([node.id]);
      // Fresh keys enroll as a new node.
      const fresh = await s.enrollNode(enrollInput(1, { newNodeId: 'nnew', wgKey: key32(80), identityKey: key32(180), now: NOW + 3 }));
      expect(fresh.outcome).toBe('created');
    });

    it('revoking a user revokes the keys of its nodes', async () => {
      const s = await open();
      await s.createAuthKey(
        { id: 'ku', secretHash: hashSecret('su'), tags: [], user: 'alice', reusable: true, createdAt: NOW, expiresAt: NOW + DAY, nodeTtlMs: null },
        { action: 'admin.key.created', actor: 'admin', target: 'ku' },
      );
      await s.enrollNode(enrollInput(1, { keyId: 'ku', secret: 'su' }));
      await s.removeUser('alice', NOW + 1, audit('user.removed', 'alice'));
      await addKey(s);
      await expect(s.enrollNode(enrollInput(2, { wgKey: key32(1) }))).rejects.toMatchObject({ code: 'TRELLIS_ERR_KEY_REVOKED' });
    });

    it('rotation requests, rotations and expiry changes refuse unknown, revoked and expired nodes, changing nothing', async () => {
      const s = await open();
      await addKey(s);
      const a = (await s.enrollNode(enrollInput(1))).node;
      const b = (await s.enrollNode(enrollInput(2))).node;
      await s.revokeNode(b.id, NOW, audit('node.revoked', b.id));
      await expect(s.requestKeyRotation([a.id, 'nope'], NOW, (n) => audit('r', n.id))).rejects.toMatchObject({ code: 'TRELLIS_ERR_NOT_FOUND' });
      await expect(s.requestKeyRotation([a.id, b.id], NOW, (n) => audit('r', n.id))).rejects.toMatchObject({ code: 'TRELLIS_ERR_NODE_NOT_LIVE' });
      expect((await s.getNode(a.id))?.rotateRequestedAt).toBeNull();
      await expect(s.rotateWgKey(b.id, key32(90), NOW, audit('x'))).rejects.toMatchObject({ code: 'TRELLIS_ERR_NODE_NOT_LIVE' });
      await expect(s.setNodeExpiry(b.id, NOW + DAY, NOW, audit('x'))).rejects.toMatchObject({ code: 'TRELLIS_ERR_NODE_NOT_LIVE' });

      const expired = await s.setNodeExpiry(a.id, NOW, NOW, audit('node.expired', a.id));
      expect(expired.expiresAt).toBe(NOW);
      // An expired node stays expired: a later expiry would bring it back without an auth key.
      await expect(s.setNodeExpiry(a.id, NOW + DAY, NOW + 1, audit('x'))).rejects.toMatchObject({ code: 'TRELLIS_ERR_NODE_NOT_LIVE' });
      expect((await s.getNode(a.id))?.expiresAt).toBe(NOW);
    });

    it('an expired node that comes back with an auth key gets a new identity lifetime', async () => {
      const s = await open();
      await addKey(s, { nodeTtlMs: 1000 });
      const { node } = await s.enrollNode(enrollInput(1, { lifetimes }));
      const back = await s.enrollNode(enrollInput(1, { now: NOW + 5000, lifetimes }));
      expect(back.outcome).toBe('renewed');
      expect(back.node.identityExpiresAt).toBe(NOW + 5000 + 90 * DAY);
      expect(back.node.id).toBe(node.id);
    });

    it('gives nodes from before lifetimes a lifetime once', async () => {
      const s = await open();
      await addKey(s);
      const { node } = await s.enrollNode(enrollInput(1));
      expect(node.identityExpiresAt).toBeNull();
      expect(await s.giveIdentityLifetimes(() => NOW + DAY, NOW)).toBe(1);
      expect((await s.getNode(node.id))?.identityExpiresAt).toBe(NOW + DAY);
      expect(await s.giveIdentityLifetimes(() => NOW + 2 * DAY, NOW)).toBe(0);
    });

    it('migrating a version-2 database remembers its nodes\' keys, revoked ones as revoked', async () => {
      const v2 = await open({ maxVersion: 2 });
      await addKey(v2);
      await v2.close();
      // Rows as a version-2 controller wrote them: one live node, one revoked.
      const insert = (...args: unknown[]) =>
        h.exec(
          `INSERT INTO nodes (id, name, hostname, owner_user, tags, wg_key, identity_key, addr_index, ipv4, ipv6, endpoints, auth_key_id, created_at, revoked, revoked_at)
         VALUES (?, ?, 'h', NULL, '[]', ?, ?, ?, ?, ?, '[]', 'k1', ?, ?, ?)`,
          args,
        );
      await insert('n0001', 'node-1', key32(1), key32(101), 1, '100.64.0.1', 'fd7a:7e11:5000::1', NOW, 0, null);
      await insert('n0002', 'node-2', key32(2), key32(102), 2, '100.64.0.2', 'fd7a:7e11:5000::2', NOW, 1, NOW + 1);
      const live = { id: 'n0001', createdAt: NOW };
      const gone = { wgKey: key32(2) };
      expect(await h.tableExists('node_keys')).toBe(false);

      const s = await open();
      expect(await s.schemaVersions()).toEqual(h.migrations.map((m) => m.version));
      const after = (await s.getNode(live.id)) as NodeRecord;
      expect(after.wgKeyCreatedAt).toBe(live.createdAt);
      await expect(s.enrollNode(enrollInput(3, { wgKey: gone.wgKey }))).rejects.toMatchObject({ code: 'TRELLIS_ERR_KEY_REVOKED' });
      await expect(s.rotateWgKey(live.id, gone.wgKey, NOW + 2, audit('x'))).rejects.toMatchObject({ code: 'TRELLIS_ERR_KEY_REVOKED' });
      expect((await s.enrollNode(enrollInput(1, { newNodeId: 'nzz' }))).outcome).toBe('reenrolled');
    });
  });
}
