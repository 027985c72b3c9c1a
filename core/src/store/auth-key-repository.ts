/** Auth keys: what a node presents once to enroll. Only the secret's hash is stored. */
import type { AuthKeyView } from '../wire';
import type { AuditEntry } from './audit-repository';

/** A stored auth key: what the admin API shows of it, and the lifetime it gives the nodes it enrolls. */
export interface AuthKeyRecord extends AuthKeyView {
  /** Lifetime of the key of a node enrolled with it, ms; null = never expires. */
  nodeTtlMs: number | null;
}

export interface NewAuthKey extends Omit<AuthKeyRecord, 'uses' | 'revoked'> {
  /** hashSecret(secret); the secret itself never reaches the store. */
  secretHash: string;
}

export interface AuthKeyRepository {
  createAuthKey(key: NewAuthKey, audit: AuditEntry): Promise<AuthKeyRecord>;
  listAuthKeys(): Promise<AuthKeyRecord[]>;
  /** revokeAuthKey stops any further enrolment with the key and audits; idempotent. Throws NOT_FOUND. */
  revokeAuthKey(id: string, audit: AuditEntry): Promise<AuthKeyRecord>;
}
