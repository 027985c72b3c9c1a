import type Database from 'better-sqlite3';
import type { RotationLeaseOutcome, RotationLeaseRepository } from '../rotation-lease-repository';

/** SqliteRotationLeaseRepository: the leases in one table; a transaction makes check-and-grant atomic. */
export class SqliteRotationLeaseRepository implements RotationLeaseRepository {
  constructor(private readonly db: Database.Database) {}

  async takeRotationLease(nodeId: string, peerIds: readonly string[], now: number, until: number): Promise<RotationLeaseOutcome> {
    return this.db.transaction((): RotationLeaseOutcome => {
      this.db.prepare('DELETE FROM rotation_leases WHERE until <= ?').run(now);
      let busyUntil = 0;
      const leaseOf = this.db.prepare('SELECT until FROM rotation_leases WHERE node_id = ?');
      for (const peer of peerIds) busyUntil = Math.max(busyUntil, (leaseOf.get(peer) as { until: number } | undefined)?.until ?? 0);
      if (busyUntil > now) return { granted: false, busyUntil };
      this.db.prepare('INSERT INTO rotation_leases (node_id, until) VALUES (?, ?) ON CONFLICT(node_id) DO UPDATE SET until = excluded.until').run(nodeId, until);
      return { granted: true, until };
    }).immediate();
  }

  async holdRotationLease(nodeId: string, until: number): Promise<void> {
    this.db.prepare('INSERT INTO rotation_leases (node_id, until) VALUES (?, ?) ON CONFLICT(node_id) DO UPDATE SET until = excluded.until').run(nodeId, until);
  }
}
