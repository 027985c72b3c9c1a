/**
 * The append-only, hash-chained audit log: every change of state is written with its audit entry in
 * one transaction, each entry carries the previous entry's hash (audit-chain.ts), and the controller
 * appends signed checkpoints.
 */
import type { AuditEvent, AuditQuery, AuditVerifyReport } from '../wire';

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
  /** Events matching the query, oldest first: the newest `limit` of them, or with afterSeq the first `limit` after it. */
  queryAudit(query: AuditQuery): Promise<AuditEvent[]>;
  /** Up to `limit` events with seq greater than afterSeq, in seq order (for verification and export). */
  readAuditPage(afterSeq: number, limit: number): Promise<AuditEvent[]>;
  /** The newest entry's seq and hash, or null for an empty log. */
  auditHead(): Promise<{ seq: number; hash: string | null } | null>;
  /**
   * checkpointAudit appends a checkpoint signed with the store's signer over the newest entry, when
   * entries were added since the last one; returns it, or null when there was nothing to cover.
   */
  checkpointAudit(at: number): Promise<AuditEvent | null>;
  /** verifyAudit walks the whole chain (see audit-chain.ts); publicKey checks checkpoint signatures. */
  verifyAudit(publicKey: string | null): Promise<AuditVerifyReport>;
}
