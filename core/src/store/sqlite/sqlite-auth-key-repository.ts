import type Database from 'better-sqlite3';
import { errors } from '../../errors';
import type { AuditEntry } from '../audit-repository';
import type { AuthKeyRecord, AuthKeyRepository, NewAuthKey } from '../auth-key-repository';
import { toKey, type KeyRow } from '../store-rows';
import type { SqliteAuditRepository } from './sqlite-audit-repository';

export class SqliteAuthKeyRepository implements AuthKeyRepository {
  constructor(
    private readonly db: Database.Database,
    private readonly audit: SqliteAuditRepository,
    /** Records a key's owner as a user when it is not one yet. */
    private readonly ensureUserSync: (name: string, at: number) => void,
  ) {}

  /** rowSync is the stored key with its secret hash, for enrollment to check. */
  rowSync(id: string): KeyRow | undefined {
    return this.db.prepare('SELECT * FROM auth_keys WHERE id = ?').get(id) as KeyRow | undefined;
  }

  countUseSync(id: string): void {
    this.db.prepare('UPDATE auth_keys SET uses = uses + 1 WHERE id = ?').run(id);
  }

  /** revokeOwnedBySync revokes the user's live keys and returns their ids. */
  revokeOwnedBySync(user: string): string[] {
    const keys = (this.db.prepare('SELECT id FROM auth_keys WHERE owner_user = ? AND revoked = 0 ORDER BY id').all(user) as Array<{ id: string }>).map((r) => r.id);
    this.db.prepare('UPDATE auth_keys SET revoked = 1 WHERE owner_user = ? AND revoked = 0').run(user);
    return keys;
  }

  async createAuthKey(key: NewAuthKey, audit: AuditEntry): Promise<AuthKeyRecord> {
    return this.db.transaction(() => {
      if (key.user !== null) this.ensureUserSync(key.user, key.createdAt);
      this.db
        .prepare(
          'INSERT INTO auth_keys (id, secret_hash, tags, owner_user, reusable, created_at, expires_at, node_ttl_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(key.id, key.secretHash, JSON.stringify(key.tags), key.user, key.reusable ? 1 : 0, key.createdAt, key.expiresAt, key.nodeTtlMs);
      this.audit.appendSync(audit);
      return toKey(this.rowSync(key.id) as KeyRow);
    })();
  }

  async revokeAuthKey(id: string, audit: AuditEntry): Promise<AuthKeyRecord> {
    return this.db.transaction(() => {
      const row = this.rowSync(id);
      if (!row) throw errors.notFound(`auth key "${id}"`);
      if (row.revoked === 0) this.db.prepare('UPDATE auth_keys SET revoked = 1 WHERE id = ?').run(id);
      this.audit.appendSync({ ...audit, details: { ...(audit.details ?? {}), alreadyRevoked: row.revoked === 1 } });
      return toKey(this.rowSync(id) as KeyRow);
    })();
  }

  async listAuthKeys(): Promise<AuthKeyRecord[]> {
    return (this.db.prepare('SELECT * FROM auth_keys ORDER BY created_at, id').all() as KeyRow[]).map(toKey);
  }
}
