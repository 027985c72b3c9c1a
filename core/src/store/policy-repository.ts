/** Policy versions (bundles on disk, by sha256) and the activation stack that rollback walks back. */
import type { AuditEntry } from './audit-repository';

/** One stored policy bundle; the version is the sha256 of its bytes. */
export interface PolicyVersionRecord {
  version: string;
  /** Bundle file, relative to the controller data dir. */
  file: string;
  size: number;
  /** Where it came from (a pushed dir, the shipped bundle, ...), for people. */
  source: string;
  createdAt: number;
}

export interface PolicyActivation {
  seq: number;
  version: string;
  at: number;
  actor: string;
  /** seed | push | rollback */
  kind: string;
}

export interface PolicyRepository {
  /**
   * activatePolicy records the version (if new, with its bundle bytes) and makes it the active one,
   * with the audit entry, in one transaction. The bundle file must already be on disk.
   */
  activatePolicy(version: PolicyVersionRecord, activation: { at: number; actor: string; kind: string }, audit: AuditEntry, bundle?: Buffer): Promise<void>;
  /** policyBundle is the bundle stored with a version (so every controller sharing the store can load it), or null. */
  policyBundle(version: string): Promise<Buffer | null>;
  /** rollbackPolicy undoes the newest activation; returns the version now active. Throws POLICY_NO_PREVIOUS. */
  rollbackPolicy(activation: { at: number; actor: string }, audit: (from: string, to: string) => AuditEntry): Promise<{ from: string; to: PolicyVersionRecord }>;
  /** The active version, or null before the first one. */
  activePolicy(): Promise<(PolicyVersionRecord & { activatedAt: number }) | null>;
  listPolicyVersions(): Promise<PolicyVersionRecord[]>;
  /** Activations still in force, oldest first (the rollback stack). */
  listPolicyActivations(): Promise<PolicyActivation[]>;
}
