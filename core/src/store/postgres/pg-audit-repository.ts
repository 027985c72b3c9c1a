import { AUDIT_CHAIN_START_ACTION, AUDIT_CHECKPOINT_ACTION, type AuditEvent, type AuditQuery, type AuditVerifyReport } from '../../wire';
import { errors } from '../../errors';
import { auditEntryHash, checkpointDetails, GENESIS_HASH, legacyDigest, normalizeDetails, verifyAuditPages, type AuditSigner } from '../audit-chain';
import type { AuditEntry, AuditRepository } from '../audit-repository';
import { toAudit, type AuditRow } from '../store-rows';
import type { PgDatabase, PgQuery } from './pg-database';

export interface PgAuditOptions {
  /** Signs checkpoints; without it none are written. */
  signer?: AuditSigner | null;
  /** A checkpoint follows every this many entries. Default 100. */
  checkpointEvery?: number;
}

/**
 * PgAuditRepository appends to the audit table, which refuses UPDATE, DELETE and TRUNCATE through
 * triggers, and chains every entry to the one before (audit-chain.ts). Every append runs inside a
 * write transaction (PgDatabase.write), which holds the store-wide lock: the entry's seq and
 * prevHash are read under it, so controllers sharing the database extend one linear chain. The
 * count since the last checkpoint is read from the table, not kept in memory, for the same reason.
 */
export class PgAuditRepository implements AuditRepository {
  private readonly signer: AuditSigner | null;
  private readonly checkpointEvery: number;
  /** False on a schema from before the chain (only tests of the migration runner open one). */
  private chained = true;

  constructor(
    private readonly db: PgDatabase,
    opts: PgAuditOptions = {},
  ) {
    this.signer = opts.signer ?? null;
    this.checkpointEvery = opts.checkpointEvery ?? 100;
  }

  /**
   * startChain runs once the schema is migrated: when only entries from before the chain exist, it
   * appends the chain's start entry, which digests them. It refuses a signer other than the one
   * that signed the newest checkpoint: controllers sharing a database must share the signing key,
   * or `audit verify` could not check their checkpoints with one public key.
   */
  async startChain(at: number): Promise<void> {
    const col = await this.db.query.row<{ n: number }>(
      "SELECT count(*)::bigint AS n FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'audit' AND column_name = 'hash'",
    );
    this.chained = (col?.n ?? 0) > 0;
    if (!this.chained) return;
    await this.db.write(async (tx) => {
      if (!(await tx.row('SELECT 1 FROM audit WHERE hash IS NOT NULL LIMIT 1')) && (await tx.row('SELECT 1 FROM audit LIMIT 1'))) {
        const legacy = (await tx.rows<AuditRow>('SELECT * FROM audit ORDER BY seq')).map(toAudit);
        await this.insert(tx, { at, action: AUDIT_CHAIN_START_ACTION, actor: 'controller', target: null, details: { legacyEntries: legacy.length, legacyDigest: legacyDigest(legacy) } });
      }
      if (!this.signer) return;
      const last = await tx.row<{ details: string }>('SELECT details FROM audit WHERE action = $1 ORDER BY seq DESC LIMIT 1', [AUDIT_CHECKPOINT_ACTION]);
      const key = last ? (JSON.parse(last.details) as { key?: unknown }).key : undefined;
      if (typeof key === 'string' && key !== this.signer.publicKey) {
        throw errors.store(
          `the audit chain in this database is signed with controller key ${key}, not this controller's ${this.signer.publicKey}; controllers sharing a database share one signing key: copy signing.key and signing.pub from the data dir of the controller that holds ${key.slice(0, 12)}… into this one's data dir`,
        );
      }
    });
  }

  private async insert(q: PgQuery, entry: AuditEntry): Promise<AuditEvent> {
    const at = entry.at ?? Date.now();
    const details = normalizeDetails(entry.details);
    const target = entry.target ?? null;
    const last = await q.row<{ seq: number; hash: string | null }>(this.chained ? 'SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1' : 'SELECT seq, NULL AS hash FROM audit ORDER BY seq DESC LIMIT 1');
    const seq = (last?.seq ?? 0) + 1;
    if (!this.chained) {
      await q.run('INSERT INTO audit (seq, at, action, actor, target, details) VALUES ($1, $2, $3, $4, $5, $6)', [seq, at, entry.action, entry.actor, target, JSON.stringify(details)]);
      return { seq, at, action: entry.action, actor: entry.actor, target, details, prevHash: null, hash: null };
    }
    const prevHash = last?.hash ?? GENESIS_HASH;
    const hash = auditEntryHash({ seq, at, action: entry.action, actor: entry.actor, target, details, prevHash });
    await q.run('INSERT INTO audit (seq, at, action, actor, target, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
      seq,
      at,
      entry.action,
      entry.actor,
      target,
      JSON.stringify(details),
      prevHash,
      hash,
    ]);
    return { seq, at, action: entry.action, actor: entry.actor, target, details, prevHash, hash };
  }

  private async sinceCheckpoint(q: PgQuery, headSeq: number): Promise<number> {
    const last = await q.row<{ seq: number }>('SELECT seq FROM audit WHERE action = $1 ORDER BY seq DESC LIMIT 1', [AUDIT_CHECKPOINT_ACTION]);
    return headSeq - (last?.seq ?? 0);
  }

  /** appendIn appends inside the caller's write transaction (which holds the write lock). */
  async appendIn(q: PgQuery, entry: AuditEntry): Promise<AuditEvent> {
    const event = await this.insert(q, entry);
    if (this.signer && this.chained && (await this.sinceCheckpoint(q, event.seq)) >= this.checkpointEvery) await this.checkpointIn(q, event.at);
    return event;
  }

  private async checkpointIn(q: PgQuery, at: number): Promise<AuditEvent | null> {
    if (!this.signer || !this.chained) return null;
    const head = await q.row<{ seq: number; action: string; hash: string | null }>('SELECT seq, action, hash FROM audit ORDER BY seq DESC LIMIT 1');
    if (!head || head.hash === null || head.action === AUDIT_CHECKPOINT_ACTION) return null;
    const covered = await this.sinceCheckpoint(q, head.seq);
    return this.insert(q, { at, action: AUDIT_CHECKPOINT_ACTION, actor: 'controller', target: null, details: checkpointDetails(this.signer, head.seq, head.hash, covered) });
  }

  async appendAudit(entry: AuditEntry): Promise<AuditEvent> {
    return this.db.write((tx) => this.appendIn(tx, entry));
  }

  async listAudit(limit: number): Promise<AuditEvent[]> {
    const rows = await this.db.query.rows<AuditRow>('SELECT * FROM audit ORDER BY seq DESC LIMIT $1', [limit]);
    return rows.reverse().map(toAudit);
  }

  async queryAudit(q: AuditQuery): Promise<AuditEvent[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const p = (v: unknown) => {
      args.push(v);
      return `$${args.length}`;
    };
    if (q.since !== undefined) where.push(`at >= ${p(q.since)}`);
    if (q.until !== undefined) where.push(`at < ${p(q.until)}`);
    if (q.afterSeq !== undefined) where.push(`seq > ${p(q.afterSeq)}`);
    if (q.node !== undefined) {
      const name = q.nodeName ?? q.node;
      const n = p(name);
      where.push(
        `(target = ${p(q.node)} OR actor = ${p(`node:${q.node}`)} OR (details::jsonb ->> 'name') = ${n} OR (details::jsonb ->> 'peer') = ${n} OR (details::jsonb ->> 'node') = ${n})`,
      );
    }
    if (q.types && q.types.length > 0) {
      where.push(`(${q.types.map((t) => { const v = p(t); return `(action = ${v} OR left(action, length(${v}) + 1) = ${v} || '.')`; }).join(' OR ')})`);
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    if (q.afterSeq !== undefined) {
      return (await this.db.query.rows<AuditRow>(`SELECT * FROM audit ${clause} ORDER BY seq ASC LIMIT ${p(q.limit)}`, args)).map(toAudit);
    }
    const rows = await this.db.query.rows<AuditRow>(`SELECT * FROM audit ${clause} ORDER BY seq DESC LIMIT ${p(q.limit)}`, args);
    return rows.reverse().map(toAudit);
  }

  async readAuditPage(afterSeq: number, limit: number): Promise<AuditEvent[]> {
    return (await this.db.query.rows<AuditRow>('SELECT * FROM audit WHERE seq > $1 ORDER BY seq ASC LIMIT $2', [afterSeq, limit])).map(toAudit);
  }

  async auditHead(): Promise<{ seq: number; hash: string | null } | null> {
    return (await this.db.query.row<{ seq: number; hash: string | null }>('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1')) ?? null;
  }

  async checkpointAudit(at: number): Promise<AuditEvent | null> {
    return this.db.write((tx) => this.checkpointIn(tx, at));
  }

  async verifyAudit(publicKey: string | null): Promise<AuditVerifyReport> {
    return verifyAuditPages((after, limit) => this.readAuditPage(after, limit), { publicKey });
  }
}
