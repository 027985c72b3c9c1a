/** Auth keys: what a node presents once to enroll. Only the secret's hash is stored. */
import type { AuditEntry } from './audit-repository';

export interface AuthKeyRecord {
  id: string;
  tags: string[];
  user: string | null;
  reusable: boolean;
  uses: number;
  createdAt: number;
  expiresAt: number;
  revoked: boolean;
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
