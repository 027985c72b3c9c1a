import type Database from 'better-sqlite3';
import type { NonceRepository } from '../nonce-repository';

export class SqliteNonceRepository implements NonceRepository {
  constructor(private readonly db: Database.Database) {}

  async consumeNonce(nodeId: string, nonce: string, expiresAt: number): Promise<boolean> {
    return this.db.prepare('INSERT OR IGNORE INTO nonces (node_id, nonce, expires_at) VALUES (?, ?, ?)').run(nodeId, nonce, expiresAt).changes === 1;
  }

  async purgeNonces(now: number): Promise<number> {
    return this.db.prepare('DELETE FROM nonces WHERE expires_at < ?').run(now).changes;
  }
}
