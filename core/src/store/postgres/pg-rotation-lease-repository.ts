import type { RotationLeaseOutcome, RotationLeaseRepository } from '../rotation-lease-repository';
import type { PgDatabase } from './pg-database';

/**
 * PgRotationLeaseRepository: the leases every controller sharing the database decides from. The
 * check and the grant run under the store-wide write lock, so two controllers never grant leases
 * to two peers at once.
 */
export class PgRotationLeaseRepository implements RotationLeaseRepository {
  constructor(private readonly db: PgDatabase) {}

  takeRotationLease(nodeId: string, peerIds: readonly string[], now: number, until: number): Promise<RotationLeaseOutcome> {
    return this.db.write(async (tx): Promise<RotationLeaseOutcome> => {
      await tx.run('DELETE FROM rotation_leases WHERE until <= $1', [now]);
      const busy = await tx.rows<{ until: number | null }>('SELECT max(until) AS until FROM rotation_leases WHERE node_id = ANY($1::text[])', [[...peerIds]]);
      const busyUntil = busy[0]?.until ?? 0;
      if (busyUntil > now) return { granted: false, busyUntil };
      await tx.run('INSERT INTO rotation_leases (node_id, until) VALUES ($1, $2) ON CONFLICT (node_id) DO UPDATE SET until = excluded.until', [nodeId, until]);
      return { granted: true, until };
    });
  }

  async holdRotationLease(nodeId: string, until: number): Promise<void> {
    await this.db.query.run('INSERT INTO rotation_leases (node_id, until) VALUES ($1, $2) ON CONFLICT (node_id) DO UPDATE SET until = excluded.until', [nodeId, until]);
  }
}
