/** The append-only audit log: every change of state is written with its audit entry in one transaction. */
import type { AuditEvent } from '../wire';

export interface AuditEntry {
  action: string;
  actor: string;
  target?: string | null;
  details?: Record<string, unknown>;
  /** Unix ms; defaults to now. */
  at?: number;
}

export interface AuditRepository {
  appendAudit(entry: AuditEntry): Promise<AuditEvent>;
  /** The newest `limit` events, oldest first. */
  listAudit(limit: number): Promise<AuditEvent[]>;
}
