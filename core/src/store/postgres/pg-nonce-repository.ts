import type { NonceRepository } from '../nonce-repository';
import type { PgDatabase } from './pg-database';

/** PgNonceRepository: one row per (node, nonce); a second insert of the same pair is a replay, on any controller. */
export class PgNonceRepository implements NonceRepository {
  constructor(private readonly db: PgDatabase) {}

  async consumeNonce(nodeId: string, nonce: string, expiresAt: number): Promise<boolean> {
    return (await this.db.query.run('INSERT INTO nonces (node_id, nonce, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [nodeId, nonce, expiresAt])) === 1;
  }

  async purgeNonces(now: number): Promise<number> {
    return this.db.query.run('DELETE FROM nonces WHERE expires_at < $1', [now]);
  }
}
