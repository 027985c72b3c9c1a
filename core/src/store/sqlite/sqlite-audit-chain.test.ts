import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { loadOrCreateSigningKey, readSigningPublicKey, type ControllerSigningKey } from '../../auth/controller-signing-key';
import { AUDIT_CHAIN_START_ACTION, AUDIT_CHECKPOINT_ACTION } from '../../wire';
import { auditEntryHash, GENESIS_HASH } from '../audit-chain';
import { SQLITE_MIGRATIONS } from './migrations';
import { SqliteStore } from './sqlite-store';

let dir: string;
let key: ControllerSigningKey;
const stores: SqliteStore[] = [];

const open = (checkpointEvery = 100) => {
  const s = new SqliteStore({ dataDir: dir, auditSigner: key, auditCheckpointEvery: checkpointEvery });
  stores.push(s);
  return s;
};

/** fill writes n ordinary entries (seq 2.. after the chain start), at fixed times. */
async function fill(s: SqliteStore, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await s.appendAudit({ at: 1_700_000_000_000 + i, action: i % 3 === 0 ? 'node.enrolled' : 'admin.key.created', actor: 'admin', target: `t${i}`, details: { i, name: `fill-${i}` } });
}

/** raw opens the database as an attacker with file access would, triggers dropped. */
function raw(): Database.Database {
  const db = new Database(join(dir, 'trellis.db'));
  db.exec('DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;');
  return db;
}

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
const rowAt = (db: Database.Database, seq: number) => db.prepare('SELECT * FROM audit WHERE seq = ?').get(seq) as Row;
const rehash = (r: Row) => auditEntryHash({ seq: r.seq, at: r.at, action: r.action, actor: r.actor, target: r.target, details: JSON.parse(r.details) as Record<string, unknown>, prevHash: r.prev_hash });

/** renumber moves the rows from seq `from` on by `by` (negative: down), highest first when moving up. */
function renumber(db: Database.Database, from: number, by: number): void {
  db.prepare('UPDATE audit SET seq = -seq WHERE seq >= ?').run(from);
  db.prepare('UPDATE audit SET seq = -seq + ? WHERE seq < 0').run(by);
}

async function verify() {
  for (const s of stores.splice(0)) await s.close();
  const s = open();
  return s.verifyAudit(key.publicKey);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-audit-'));
  key = loadOrCreateSigningKey(dir);
});
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('audit hash chain (SQLite)', () => {
  it('chains every entry, signs a checkpoint every K entries and verifies clean', async () => {
    const s = open(100);
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
    expect(readSigningPublicKey(dir)).toBe(key.publicKey);
    // The append-only triggers still hold.
    const db = new Database(join(dir, 'trellis.db'));
    expect(() => db.prepare('UPDATE audit SET actor = ? WHERE seq = 5').run('mallory')).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM audit WHERE seq = 5').run()).toThrow(/append-only/);
    db.close();
  });

  it('names an edited entry', async () => {
    await fill(open(), 120);
    const db = raw();
    db.prepare('UPDATE audit SET actor = ? WHERE seq = 50').run('mallory');
    db.close();
    expect((await verify()).firstBad).toMatchObject({ seq: 50, kind: 'edited' });
  });

  it('names an entry edited with its hash recomputed', async () => {
    await fill(open(), 120);
    const db = raw();
    const r = rowAt(db, 50);
    r.details = JSON.stringify({ i: 48, name: 'someone-else' });
    db.prepare('UPDATE audit SET details = ?, hash = ? WHERE seq = 50').run(r.details, rehash(r));
    db.close();
    expect((await verify()).firstBad).toMatchObject({ seq: 50, kind: 'edited' });
  });

  it('names a deleted entry, also when the rest was renumbered', async () => {
    await fill(open(), 120);
    let db = raw();
    db.prepare('DELETE FROM audit WHERE seq = 50').run();
    db.close();
    expect((await verify()).firstBad).toMatchObject({ seq: 50, kind: 'deleted' });

    for (const s of stores.splice(0)) await s.close();
    rmSync(dir, { recursive: true, force: true });
    dir = mkdtempSync(join(tmpdir(), 'trellis-audit-'));
    await fill(open(), 120);
    for (const s of stores.splice(0)) await s.close();
    db = raw();
    db.prepare('DELETE FROM audit WHERE seq = 50').run();
    renumber(db, 51, -1);
    db.close();
    expect((await verify()).firstBad).toMatchObject({ seq: 50, kind: 'deleted' });
  });

  it('names reordered entries', async () => {
    await fill(open(), 120);
    for (const s of stores.splice(0)) await s.close();
    const db = raw();
    db.prepare('UPDATE audit SET seq = -1 WHERE seq = 50').run();
    db.prepare('UPDATE audit SET seq = 50 WHERE seq = 60').run();
    db.prepare('UPDATE audit SET seq = 60 WHERE seq = -1').run();
    db.close();
    expect((await verify()).firstBad).toMatchObject({ seq: 50, kind: 'reordered' });
  });

  it('names an inserted entry, in the middle (rest renumbered) or with no hash', async () => {
    await fill(open(), 120);
    for (const s of stores.splice(0)) await s.close();
    let db = raw();
    renumber(db, 51, 1);
    const before = rowAt(db, 50);
    const forged: Row = { ...before, seq: 51, action: 'admin.key.created', actor: 'admin', target: 'forged', details: '{"i":999}', prev_hash: before.hash, hash: '' };
    forged.hash = rehash(forged);
    db.prepare('INSERT INTO audit (seq, at, action, actor, target, details, prev_hash, hash) VALUES (@seq, @at, @action, @actor, @target, @details, @prev_hash, @hash)').run(forged);
    db.close();
    expect((await verify()).firstBad).toMatchObject({ seq: 51, kind: 'inserted' });

    for (const s of stores.splice(0)) await s.close();
    db = raw();
    db.prepare('DELETE FROM audit WHERE seq > 40').run();
    db.prepare("INSERT INTO audit (seq, at, action, actor, target, details) VALUES (41, 1, 'node.enrolled', 'admin', NULL, '{}')").run();
    db.close();
    expect((await verify()).firstBad).toMatchObject({ seq: 41, kind: 'inserted' });
  });

  it('catches a chain rewritten after an edit through the signed checkpoints', async () => {
    await fill(open(100), 150);
    for (const s of stores.splice(0)) await s.close();
    const db = raw();
    const rows = db.prepare('SELECT * FROM audit ORDER BY seq').all() as Row[];
    let prev = GENESIS_HASH;
    for (const r of rows) {
      if (r.seq === 20) r.details = JSON.stringify({ i: 18, name: 'rewritten' });
      if (r.action === AUDIT_CHECKPOINT_ACTION) {
        const d = JSON.parse(r.details) as { upTo: number; head: string };
        d.head = (db.prepare('SELECT hash FROM audit WHERE seq = ?').get(d.upTo) as { hash: string }).hash;
        r.details = JSON.stringify(d);
      }
      r.prev_hash = prev;
      r.hash = rehash(r);
      db.prepare('UPDATE audit SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?').run(r.details, r.prev_hash, r.hash, r.seq);
      prev = r.hash;
    }
    db.close();
    const report = await verify();
    expect(report.firstBad).toMatchObject({ seq: 101, kind: "bad-checkpoint" });
    expect(report.firstBad?.message).toMatch(/entries 1\.\.100 were rewritten/);
    // Without the key only the links are checked, and the rewrite passes: the signatures are what catch it.
    expect((await stores[0]!.verifyAudit(null)).ok).toBe(true);
  });

  it('digests the entries older than the chain and notices when one of them changes', async () => {
    const legacyOnly = SQLITE_MIGRATIONS.filter((m) => m.version < 4);
    const old = new SqliteStore({ dataDir: dir, migrations: legacyOnly });
    for (let i = 0; i < 5; i++) await old.appendAudit({ at: 1000 + i, action: 'admin.key.created', actor: 'admin', target: `k${i}` });
    await old.close();
    const s = open();
    await fill(s, 3);
    const report = await s.verifyAudit(key.publicKey);
    expect(report).toMatchObject({ ok: true, legacy: 5, chained: 4 });
    expect((await s.readAuditPage(5, 1))[0]).toMatchObject({ seq: 6, action: AUDIT_CHAIN_START_ACTION, details: { legacyEntries: 5 } });

    const db = raw();
    db.prepare("UPDATE audit SET target = 'k9' WHERE seq = 3").run();
    db.close();
    expect((await verify()).firstBad).toMatchObject({ seq: 1, kind: 'legacy-edited' });
  });

  it('filters by time, node, type and seq', async () => {
    const s = open();
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
