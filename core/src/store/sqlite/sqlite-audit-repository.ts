import type Database from 'better-sqlite3';
import { AUDIT_CHAIN_START_ACTION, AUDIT_CHECKPOINT_ACTION, type AuditEvent, type AuditQuery, type AuditVerifyReport } from '../../wire';
import { auditEntryHash, checkpointDetails, GENESIS_HASH, legacyDigest, normalizeDetails, verifyAuditPages, type AuditSigner } from '../audit-chain';
import type { AuditEntry, AuditRepository } from '../audit-repository';
import { toAudit, type AuditRow } from '../store-rows';

export interface SqliteAuditOptions {
  /** Signs checkpoints; without it none are written. */
  signer?: AuditSigner | null;
  /** A checkpoint follows every this many entries. Default 100. */
  checkpointEvery?: number;
}

/**
 * SqliteAuditRepository appends to the audit table, which refuses UPDATE and DELETE through
 * triggers, and chains every entry to the one before (audit-chain.ts). The other repositories call
 * appendSync inside their own transactions, so a change and its audit entry are written together
 * or not at all; the entry's seq and prevHash are read inside that same transaction.
 */
export class SqliteAuditRepository implements AuditRepository {
  private readonly signer: AuditSigner | null;
  private readonly checkpointEvery: number;
  private sinceCheckpoint = 0;
  /** False on a schema from before the chain (only tests of the migration runner open one). */
  private chained = true;

  constructor(
    private readonly db: Database.Database,
    opts: SqliteAuditOptions = {},
  ) {
    this.signer = opts.signer ?? null;
    this.checkpointEvery = opts.checkpointEvery ?? 100;
  }

  /**
   * startChain runs once the schema is migrated: when only entries from before the chain exist, it
   * appends the chain's start entry, which digests them; and it counts the entries since the last
   * checkpoint.
   */
  startChain(at: number): void {
    const columns = (this.db.prepare('PRAGMA table_info(audit)').all() as Array<{ name: string }>).map((c) => c.name);
    this.chained = columns.includes('hash');
    if (!this.chained) return;
    this.db.transaction(() => {
      // An empty log simply starts with its first entry; older entries are digested by a start entry.
      if (!this.db.prepare('SELECT 1 FROM audit WHERE hash IS NOT NULL LIMIT 1').get() && this.db.prepare('SELECT 1 FROM audit LIMIT 1').get()) {
        const legacy = (this.db.prepare('SELECT * FROM audit ORDER BY seq').all() as AuditRow[]).map(toAudit);
        this.insert({ at, action: AUDIT_CHAIN_START_ACTION, actor: 'controller', target: null, details: { legacyEntries: legacy.length, legacyDigest: legacyDigest(legacy) } });
      }
      const last = this.db.prepare('SELECT MAX(seq) AS seq FROM audit WHERE action = ?').get(AUDIT_CHECKPOINT_ACTION) as { seq: number | null };
      const head = this.db.prepare('SELECT MAX(seq) AS seq FROM audit').get() as { seq: number | null };
      this.sinceCheckpoint = (head.seq ?? 0) - (last.seq ?? 0);
    })();
  }

  private insert(entry: AuditEntry): AuditEvent {
    const at = entry.at ?? Date.now();
    const details = normalizeDetails(entry.details);
    const target = entry.target ?? null;
    if (!this.chained) {
      const info = this.db.prepare('INSERT INTO audit (at, action, actor, target, details) VALUES (?, ?, ?, ?, ?)').run(at, entry.action, entry.actor, target, JSON.stringify(details));
      return { seq: Number(info.lastInsertRowid), at, action: entry.action, actor: entry.actor, target, details, prevHash: null, hash: null };
    }
    const last = this.db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string | null } | undefined;
    const seq = (last?.seq ?? 0) + 1;
    const prevHash = last?.hash ?? GENESIS_HASH;
    const hash = auditEntryHash({ seq, at, action: entry.action, actor: entry.actor, target, details, prevHash });
    this.db
      .prepare('INSERT INTO audit (seq, at, action, actor, target, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(seq, at, entry.action, entry.actor, target, JSON.stringify(details), prevHash, hash);
    return { seq, at, action: entry.action, actor: entry.actor, target, details, prevHash, hash };
  }

  appendSync(entry: AuditEntry): AuditEvent {
    const event = this.insert(entry);
    this.sinceCheckpoint++;
    if (this.signer && this.sinceCheckpoint >= this.checkpointEvery) this.checkpointSync(event.at);
    return event;
  }

  private checkpointSync(at: number): AuditEvent | null {
    if (!this.signer) return null;
    const head = this.db.prepare('SELECT seq, action, hash FROM audit ORDER BY seq DESC LIMIT 1').get() as { seq: number; action: string; hash: string | null } | undefined;
    if (!head || head.hash === null || head.action === AUDIT_CHECKPOINT_ACTION) return null;
    const covered = this.sinceCheckpoint;
    const event = this.insert({ at, action: AUDIT_CHECKPOINT_ACTION, actor: 'controller', target: null, details: checkpointDetails(this.signer, head.seq, head.hash, covered) });
    this.sinceCheckpoint = 0;
    return event;
  }

  async appendAudit(entry: AuditEntry): Promise<AuditEvent> {
    return this.db.transaction(() => this.appendSync(entry))();
  }

  async listAudit(limit: number): Promise<AuditEvent[]> {
    const rows = this.db.prepare('SELECT * FROM audit ORDER BY seq DESC LIMIT ?').all(limit) as AuditRow[];
    return rows.reverse().map(toAudit);
  }

  async queryAudit(q: AuditQuery): Promise<AuditEvent[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (sql: string, ...values: unknown[]) => {
      where.push(sql);
      args.push(...values);
    };
    if (q.since !== undefined) add('at >= ?', q.since);
    if (q.until !== undefined) add('at < ?', q.until);
    if (q.afterSeq !== undefined) add('seq > ?', q.afterSeq);
    if (q.node !== undefined) {
      const name = q.nodeName ?? q.node;
      add("(target = ? OR actor = ? OR json_extract(details, '$.name') = ? OR json_extract(details, '$.peer') = ? OR json_extract(details, '$.node') = ?)", q.node, `node:${q.node}`, name, name, name);
    }
    if (q.types && q.types.length > 0) {
      add(`(${q.types.map(() => "(action = ? OR substr(action, 1, length(?) + 1) = ? || '.')").join(' OR ')})`, ...q.types.flatMap((t) => [t, t, t]));
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    if (q.afterSeq !== undefined) {
      return (this.db.prepare(`SELECT * FROM audit ${clause} ORDER BY seq ASC LIMIT ?`).all(...args, q.limit) as AuditRow[]).map(toAudit);
    }
    const rows = this.db.prepare(`SELECT * FROM audit ${clause} ORDER BY seq DESC LIMIT ?`).all(...args, q.limit) as AuditRow[];
    return rows.reverse().map(toAudit);
  }

  async readAuditPage(afterSeq: number, limit: number): Promise<AuditEvent[]> {
    return (this.db.prepare('SELECT * FROM audit WHERE seq > ? ORDER BY seq ASC LIMIT ?').all(afterSeq, limit) as AuditRow[]).map(toAudit);
  }

  async auditHead(): Promise<{ seq: number; hash: string | null } | null> {
    return (this.db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string | null } | undefined) ?? null;
  }

  async checkpointAudit(at: number): Promise<AuditEvent | null> {
    return this.db.transaction(() => this.checkpointSync(at))();
  }

  async verifyAudit(publicKey: string | null): Promise<AuditVerifyReport> {
    return verifyAuditPages((after, limit) => this.readAuditPage(after, limit), { publicKey });
  }
}
