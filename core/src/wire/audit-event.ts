import type { AuditRecordEvent } from '../api/hooks';

/**
 * One entry of the append-only audit log, as stored and as GET /v1/admin/audit answers it: the
 * entry exporters receive (onAuditEvents), with the link to the entry before it. Its hash is the
 * sha256 of the canonical JSON of the entry with prevHash and without hash; both are null for
 * entries older than the chain.
 */
export interface AuditEvent extends AuditRecordEvent {
  /** Hash of the entry before this one (64 zeros for the first). */
  prevHash: string | null;
}

/** The action of the controller's signed checkpoints in the audit chain. */
export const AUDIT_CHECKPOINT_ACTION = 'audit.checkpoint';
/** The action of the entry that starts the chain (and digests any older, unchained entries). */
export const AUDIT_CHAIN_START_ACTION = 'audit.chain.started';

/** How an audit chain was found broken, for the first bad entry. */
export type AuditTamperKind = 'edited' | 'deleted' | 'inserted' | 'reordered' | 'bad-checkpoint' | 'legacy-edited';

/** What `trellis audit verify` (GET /v1/admin/audit/verify, or offline on a data dir) reports. */
export interface AuditVerifyReport {
  ok: boolean;
  /** Entries read, chained ones and the older unchained ones covered by the chain start's digest. */
  entries: number;
  chained: number;
  legacy: number;
  /** The last entry read. */
  headSeq: number | null;
  headHash: string | null;
  checkpoints: {
    total: number;
    /** Signatures that verified with the controller's key (0 when no key was given). */
    verified: number;
    /** Whether signatures were checked at all (offline without the key they are not). */
    signaturesChecked: boolean;
    lastSeq: number | null;
  };
  /** Chained entries after the last checkpoint: linked, but not covered by a signature yet. */
  unsignedTail: number;
  /** The first entry where the chain breaks, or null. */
  firstBad: { seq: number; kind: AuditTamperKind; message: string } | null;
}

/** Filters of GET /v1/admin/audit (and `trellis audit`). */
export interface AuditQuery {
  /** Unix ms, inclusive. */
  since?: number;
  /** Unix ms, exclusive. */
  until?: number;
  /** Node id; the controller resolves a name. Matches the target, a node actor, or details.name/peer. */
  node?: string;
  /** Node name to match in details.name / details.peer (set with node). */
  nodeName?: string;
  /** Action families, e.g. ["auth", "node.revoked"]: an entry matches a family or a prefix ending at a dot. */
  types?: string[];
  /** Only entries with seq greater than this (for --follow). */
  afterSeq?: number;
  limit: number;
}
