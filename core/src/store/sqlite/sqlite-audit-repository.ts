import type Database from 'better-sqlite3';
import type { AuditEvent } from '../../wire';
import type { AuditEntry, AuditRepository } from '../audit-repository';

interface AuditRow {
  seq: number;
  at: number;
  action: string;
  actor: string;
  target: string | null;
  details: string;
}

const toAudit = (r: AuditRow): AuditEvent => ({
  seq: r.seq,
  at: r.at,
  action: r.action,
  actor: r.actor,
  target: r.target,
  details: JSON.parse(r.details) as Record<string, unknown>,
});

/**
 * SqliteAuditRepository appends to the audit table, which refuses UPDATE and DELETE through
 * triggers. The other repositories call appendSync inside their own transactions, so a change
 * and its audit entry are written together or not at all.
 */
export class SqliteAuditRepository implements AuditRepository {
  constructor(private readonly db: Database.Database) {}

  appendSync(entry: AuditEntry): AuditEvent {
    const at = entry.at ?? Date.now();
    const details = entry.details ?? {};
    const info = this.db
      .prepare('INSERT INTO audit (at, action, actor, target, details) VALUES (?, ?, ?, ?, ?)')
      .run(at, entry.action, entry.actor, entry.target ?? null, JSON.stringify(details));
    return { seq: Number(info.lastInsertRowid), at, action: entry.action, actor: entry.actor, target: entry.target ?? null, details };
  }

  async appendAudit(entry: AuditEntry): Promise<AuditEvent> {
    return this.appendSync(entry);
  }

  async listAudit(limit: number): Promise<AuditEvent[]> {
    const rows = this.db.prepare('SELECT * FROM audit ORDER BY seq DESC LIMIT ?').all(limit) as AuditRow[];
    return rows.reverse().map(toAudit);
  }
}
