/** The audit hash chain in every backend: chaining, signed checkpoints, and tampering named by verify. */
import { loadOrCreateSigningKey, readSigningPublicKey, type ControllerSigningKey } from '../../auth/controller-signing-key';
import { AUDIT_CHAIN_START_ACTION, AUDIT_CHECKPOINT_ACTION } from '../../wire';
import { auditEntryHash, GENESIS_HASH } from '../audit-chain';
import type { Store } from '../store';
import type { StoreHarness } from './store-harness';

interface Row {
  seq: number;
  at: number;
  action: string;
  actor: string;
  target: string | null;
  details: string;
  prev_hash: string;
  hash: string;
}

const rehash = (r: Row) => auditEntryHash({ seq: r.seq, at: r.at, action: r.action, actor: r.actor, target: r.target, details: JSON.parse(r.details) as Record<string, unknown>, prevHash: r.prev_hash });

/** fill writes n ordinary entries (seq 2.. after the chain start), at fixed times. */
async function fill(s: Store, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await s.appendAudit({ at: 1_700_000_000_000 + i, action: i % 3 === 0 ? 'node.enrolled' : 'admin.key.created', actor: 'admin', target: `t${i}`, details: { i, name: `fill-${i}` } });
}

export function defineAuditChainContract(h: StoreHarness): void {
  describe(`audit hash chain (${h.backend})`, () => {
    let key: ControllerSigningKey;
    const open = (checkpointEvery = 100) => h.open({ auditSigner: key, auditCheckpointEvery: checkpointEvery });
    const rowAt = async (seq: number) => (await h.all<Row>('SELECT * FROM audit WHERE seq = ?', [seq]))[0]!;
    /** renumber moves the rows from seq `from` on by `by` (negative: down). */
    const renumber = async (from: number, by: number) => {
      await h.exec('UPDATE audit SET seq = -seq WHERE seq >= ?', [from]);
      await h.exec('UPDATE audit SET seq = -seq + ? WHERE seq < 0', [by]);
    };
    /** raw: the triggers dropped, as an attacker with database access would. */
    const raw = async () => {
      await h.closeAll();
      await h.dropAuditGuards();
    };
    const verify = async () => {
      await h.closeAll();
      const s = await open();
      return s.verifyAudit(key.publicKey);
    };

    beforeEach(() => {
      key = loadOrCreateSigningKey(h.scratchDir);
    });

    it('chains every entry, signs a checkpoint every K entries and verifies clean', async () => {
      const s = await open(100);
      await fill(s, 250);
      const all = await s.readAuditPage(0, 1000);
      expect(all[0]).toMatchObject({ seq: 1, action: 'node.enrolled', prevHash: GENESIS_HASH });
      for (let i = 1; i < all.length; i++) expect(all[i]!.prevHash).toBe(all[i - 1]!.hash);
      const checkpoints = all.filter((e) => e.action === AUDIT_CHECKPOINT_ACTION);
      expect(checkpoints.map((c) => c.details.upTo)).toEqual([100, 201]);
      expect(await s.checkpointAudit(Date.now())).toMatchObject({ action: AUDIT_CHECKPOINT_ACTION, details: { upTo: 252 } });
      expect(await s.checkpointAudit(Date.now())).toBeNull();

      const report = await s.verifyAudit(key.publicKey);
      expect(report).toMatchObject({ ok: true, entries: 253, chained: 253, legacy: 0, headSeq: 253, firstBad: null, unsignedTail: 0 });
      expect(report.checkpoints).toEqual({ total: 3, verified: 3, signaturesChecked: true, lastSeq: 253 });
      expect(readSigningPublicKey(h.scratchDir)).toBe(key.publicKey);
      // The append-only triggers still hold.
      await expect(h.exec('UPDATE audit SET actor = ? WHERE seq = 5', ['mallory'])).rejects.toThrow(/append-only/);
      await expect(h.exec('DELETE FROM audit WHERE seq = 5')).rejects.toThrow(/append-only/);
    });

    it('names an edited entry', async () => {
      await fill(await open(), 120);
      await raw();
      await h.exec('UPDATE audit SET actor = ? WHERE seq = 50', ['mallory']);
      expect((await verify()).firstBad).toMatchObject({ seq: 50, kind: 'edited' });
    });

    it('names an entry edited with its hash recomputed', async () => {
      await fill(await open(), 120);
      await raw();
      const r = await rowAt(50);
      r.details = JSON.stringify({ i: 48, name: 'someone-else' });
      await h.exec('UPDATE audit SET details = ?, hash = ? WHERE seq = 50', [r.details, rehash(r)]);
      expect((await verify()).firstBad).toMatchObject({ seq: 50, kind: 'edited' });
    });

    it('names a deleted entry, also when the rest was renumbered', async () => {
      await fill(await open(), 120);
      await raw();
      await h.exec('DELETE FROM audit WHERE seq = 50');
      expect((await verify()).firstBad).toMatchObject({ seq: 50, kind: 'deleted' });

      await h.fresh();
      key = loadOrCreateSigningKey(h.scratchDir);
      await fill(await open(), 120);
      await raw();
      await h.exec('DELETE FROM audit WHERE seq = 50');
      await renumber(51, -1);
      expect((await verify()).firstBad).toMatchObject({ seq: 50, kind: 'deleted' });
    });

    it('names reordered entries', async () => {
      await fill(await open(), 120);
      await raw();
      await h.exec('UPDATE audit SET seq = -1 WHERE seq = 50');
      await h.exec('UPDATE audit SET seq = 50 WHERE seq = 60');
      await h.exec('UPDATE audit SET seq = 60 WHERE seq = -1');
      expect((await verify()).firstBad).toMatchObject({ seq: 50, kind: 'reordered' });
    });

    it('names an inserted entry, in the middle (rest renumbered) or with no hash', async () => {
      await fill(await open(), 120);
      await raw();
      await renumber(51, 1);
      const before = await rowAt(50);
      const forged: Row = { ...before, seq: 51, action: 'admin.key.created', actor: 'admin', target: 'forged', details: '{"i":999}', prev_hash: before.hash, hash: '' };
      forged.hash = rehash(forged);
      await h.exec('INSERT INTO audit (seq, at, action, actor, target, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
        forged.seq,
        forged.at,
        forged.action,
        forged.actor,
        forged.target,
        forged.details,
        forged.prev_hash,
        forged.hash,
      ]);
      expect((await verify()).firstBad).toMatchObject({ seq: 51, kind: 'inserted' });

      await raw();
      await h.exec('DELETE FROM audit WHERE seq > 40');
      await h.exec("INSERT INTO audit (seq, at, action, actor, target, details) VALUES (41, 1, 'node.enrolled', 'admin', NULL, '{}')");
      expect((await verify()).firstBad).toMatchObject({ seq: 41, kind: 'inserted' });
    });

    it('catches a chain rewritten after an edit through the signed checkpoints', async () => {
      await fill(await open(100), 150);
      await raw();
      const rows = await h.all<Row>('SELECT * FROM audit ORDER BY seq');
      let prev = GENESIS_HASH;
      for (const r of rows) {
        if (r.seq === 20) r.details = JSON.stringify({ i: 18, name: 'rewritten' });
        if (r.action === AUDIT_CHECKPOINT_ACTION) {
          const d = JSON.parse(r.details) as { upTo: number; head: string };
          d.head = (await rowAt(d.upTo)).hash;
          r.details = JSON.stringify(d);
        }
        r.prev_hash = prev;
        r.hash = rehash(r);
        await h.exec('UPDATE audit SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?', [r.details, r.prev_hash, r.hash, r.seq]);
        prev = r.hash;
      }
      const report = await verify();
      expect(report.firstBad).toMatchObject({ seq: 101, kind: 'bad-checkpoint' });
      expect(report.firstBad?.message).toMatch(/entries 1\.\.100 were rewritten/);
      // Without the key only the links are checked, and the rewrite passes: the signatures are what catch it.
      const s = await open();
      expect((await s.verifyAudit(null)).ok).toBe(true);
    });

    it('digests the entries older than the chain and notices when one of them changes', async () => {
      const old = await h.open({ maxVersion: 3 });
      for (let i = 0; i < 5; i++) await old.appendAudit({ at: 1000 + i, action: 'admin.key.created', actor: 'admin', target: `k${i}` });
      await old.close();
      const s = await open();
      await fill(s, 3);
      const report = await s.verifyAudit(key.publicKey);
      expect(report).toMatchObject({ ok: true, legacy: 5, chained: 4 });
      expect((await s.readAuditPage(5, 1))[0]).toMatchObject({ seq: 6, action: AUDIT_CHAIN_START_ACTION, details: { legacyEntries: 5 } });

      await raw();
      await h.exec("UPDATE audit SET target = 'k9' WHERE seq = 3");
      expect((await verify()).firstBad).toMatchObject({ seq: 1, kind: 'legacy-edited' });
    });

    it('filters by time, node, type and seq', async () => {
      const s = await open();
      await fill(s, 30);
      await s.appendAudit({ at: 1_800_000_000_000, action: 'auth.failure', actor: 'remote:192.0.2.9', details: { code: 'X' } });
      await s.appendAudit({ at: 1_800_000_000_001, action: 'conn.tunnel.up', actor: 'node:n1', target: 'n2', details: { peer: 'node-2' } });
      expect((await s.queryAudit({ types: ['auth'], limit: 10 })).map((e) => e.action)).toEqual(['auth.failure']);
      expect((await s.queryAudit({ types: ['conn.tunnel', 'auth.failure'], limit: 10 })).length).toBe(2);
      expect((await s.queryAudit({ types: ['au'], limit: 10 })).length).toBe(0);
      expect((await s.queryAudit({ since: 1_700_000_000_010, until: 1_700_000_000_012, limit: 10 })).map((e) => e.details.i)).toEqual([10, 11]);
      expect((await s.queryAudit({ node: 'n2', nodeName: 'node-2', limit: 10 })).map((e) => e.action)).toEqual(['conn.tunnel.up']);
      expect((await s.queryAudit({ node: 'n1', nodeName: 'node-1', limit: 10 })).map((e) => e.action)).toEqual(['conn.tunnel.up']);
      expect((await s.queryAudit({ node: 't5', nodeName: 'fill-6', limit: 10 })).map((e) => e.details.i)).toEqual([5, 6]);
      const after = await s.queryAudit({ afterSeq: 29, limit: 2 });
      expect(after.map((e) => e.seq)).toEqual([30, 31]);
      expect((await s.queryAudit({ limit: 2 })).map((e) => e.action)).toEqual(['auth.failure', 'conn.tunnel.up']);
    });
  });
}
