/** Settings and bookkeeping values the controller keeps by key (overlay prefixes, the active policy, ...). */
import type { AuditEntry } from './audit-repository';

export interface MetaRepository {
  getMeta(key: string): Promise<string | null>;
  /** setMeta writes a value (and the audit entry, if given) atomically. */
  setMeta(key: string, value: string, audit?: AuditEntry): Promise<void>;
}
