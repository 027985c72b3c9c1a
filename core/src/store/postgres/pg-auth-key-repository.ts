import { errors } from '../../errors';
import type { AuditEntry } from '../audit-repository';
import type { AuthKeyRecord, AuthKeyRepository, NewAuthKey } from '../auth-key-repository';
import { toKey, type KeyRow } from '../store-rows';
import type { PgAuditRepository } from './pg-audit-repository';
import type { PgDatabase, PgQuery } from './pg-database';

export class PgAuthKeyRepository implements AuthKeyRepository {
  constructor(
    private readonly db: PgDatabase,
    private readonly audit: PgAuditRepository,
    /** Records a key's owner as a user when it is not one yet. */
    private readonly ensureUserIn: (q: PgQuery, name: string, at: number) => Promise<void>,
  ) {}

  private row(q: PgQuery, id: string): Promise<KeyRow | undefined> {
    return q.row<KeyRow>('SELECT * FROM auth_keys WHERE id = $1', [id]);
  }

  /** revokeOwnedByIn revokes the user's live keys and returns their ids. */
  async revokeOwnedByIn(q: PgQuery, user: string): Promise<string[]> {
    const keys = (await q.rows<{ id: string }>('SELECT id FROM auth_keys WHERE owner_user = $1 AND revoked = 0 ORDER BY id COLLATE "C"', [user])).map((r) => r.id);
    await q.run('UPDATE auth_keys SET revoked = 1 WHERE owner_user = $1 AND revoked = 0', [user]);
    return keys;
  }

  async createAuthKey(key: NewAuthKey, audit: AuditEntry): Promise<AuthKeyRecord> {
    return this.db.write(async (tx) => {
      if (key.user !== null) await this.ensureUserIn(tx, key.user, key.createdAt);
      await tx.run('INSERT INTO auth_keys (id, secret_hash, tags, owner_user, reusable, created_at, expires_at, node_ttl_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
        key.id,
        key.secretHash,
        JSON.stringify(key.tags),
        key.user,
        key.reusable ? 1 : 0,
        key.createdAt,
        key.expiresAt,
        key.nodeTtlMs,
      ]);
      await this.audit.appendIn(tx, audit);
      return toKey((await this.row(tx, key.id)) as KeyRow);
    });
  }

  async revokeAuthKey(id: string, audit: AuditEntry): Promise<AuthKeyRecord> {
    return this.db.write(async (tx) => {
      const row = await this.row(tx, id);
      if (!row) throw errors.notFound(`auth key "${id}"`);
      if (row.revoked === 0) await tx.run('UPDATE auth_keys SET revoked = 1 WHERE id = $1', [id]);
      await this.audit.appendIn(tx, { ...audit, details: { ...(audit.details ?? {}), alreadyRevoked: row.revoked === 1 } });
      return toKey((await this.row(tx, id)) as KeyRow);
    });
  }

  async listAuthKeys(): Promise<AuthKeyRecord[]> {
    return (await this.db.query.rows<KeyRow>('SELECT * FROM auth_keys ORDER BY created_at, id COLLATE "C"')).map(toKey);
  }
}
