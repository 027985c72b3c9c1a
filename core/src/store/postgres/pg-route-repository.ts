import { errors } from '../../errors';
import type { AdvertisedRoute } from '../../netmap/route-rules';
import type { AuditEntry } from '../audit-repository';
import type { RouteDecision, RouteRecord, RouteRepository, RouteStatus } from '../route-repository';
import type { PgAuditRepository } from './pg-audit-repository';
import type { PgDatabase, PgQuery } from './pg-database';

interface RouteRow {
  node_id: string;
  prefix: string;
  kind: 'subnet' | 'exit';
  priority: number | string;
  check_target: string | null;
  advertised: number;
  status: RouteStatus;
  decided_by: string | null;
  decided_at: number | string | null;
  policy_version: string | null;
  advertised_at: number | string;
  updated_at: number | string;
}

const toRecord = (r: RouteRow): RouteRecord => ({
  nodeId: r.node_id,
  prefix: r.prefix,
  kind: r.kind,
  priority: Number(r.priority),
  check: r.check_target,
  advertised: Number(r.advertised) === 1,
  status: r.status,
  decidedBy: r.decided_by,
  decidedAt: r.decided_at === null ? null : Number(r.decided_at),
  policyVersion: r.policy_version,
  advertisedAt: Number(r.advertised_at),
  updatedAt: Number(r.updated_at),
});

/**
 * PgRouteRepository: the routes table (pg migration 7) with the semantics of the SQLite one; every
 * change is announced as a mesh change, so the other controllers reload routes and rebuild.
 */
export class PgRouteRepository implements RouteRepository {
  constructor(
    private readonly db: PgDatabase,
    private readonly audit: PgAuditRepository,
  ) {}

  private async all(q: PgQuery): Promise<RouteRecord[]> {
    return (await q.rows<RouteRow>('SELECT * FROM routes ORDER BY node_id COLLATE "C", prefix COLLATE "C"')).map(toRecord);
  }

  private async of(q: PgQuery, nodeId: string): Promise<RouteRecord[]> {
    return (await q.rows<RouteRow>('SELECT * FROM routes WHERE node_id = $1 ORDER BY prefix COLLATE "C"', [nodeId])).map(toRecord);
  }

  listRoutes(): Promise<RouteRecord[]> {
    return this.all(this.db.query);
  }

  advertiseRoutes(nodeId: string, routes: readonly AdvertisedRoute[], at: number, audit: AuditEntry): Promise<{ routes: RouteRecord[]; changed: boolean }> {
    return this.db.write(async (tx) => {
      const before = new Map((await this.of(tx, nodeId)).map((r) => [r.prefix, r]));
      const listed = new Set(routes.map((r) => r.prefix));
      let changed = false;
      for (const r of routes) {
        const old = before.get(r.prefix);
        if (!old) {
          await tx.run(
            `INSERT INTO routes (node_id, prefix, kind, priority, check_target, advertised, status, advertised_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, 1, 'pending', $6, $6)`,
            [nodeId, r.prefix, r.kind, r.priority, r.check, at],
          );
          changed = true;
        } else if (!old.advertised || old.priority !== r.priority || old.check !== r.check || old.kind !== r.kind) {
          await tx.run('UPDATE routes SET kind = $1, priority = $2, check_target = $3, advertised = 1, updated_at = $4 WHERE node_id = $5 AND prefix = $6', [
            r.kind,
            r.priority,
            r.check,
            at,
            nodeId,
            r.prefix,
          ]);
          changed = true;
        }
      }
      for (const old of before.values()) {
        if (old.advertised && !listed.has(old.prefix)) {
          await tx.run('UPDATE routes SET advertised = 0, updated_at = $1 WHERE node_id = $2 AND prefix = $3', [at, nodeId, old.prefix]);
          changed = true;
        }
      }
      if (changed) {
        await this.audit.appendIn(tx, { at, ...audit });
        tx.notify({ kind: 'mesh', reason: `routes of node ${nodeId}` });
      }
      return { routes: await this.of(tx, nodeId), changed };
    });
  }

  decideRoute(nodeId: string, prefix: string, decision: RouteDecision, audit: AuditEntry | null, guard?: (all: readonly RouteRecord[]) => void): Promise<RouteRecord> {
    return this.db.write(async (tx) => {
      const row = await tx.row<RouteRow>('SELECT * FROM routes WHERE node_id = $1 AND prefix = $2', [nodeId, prefix]);
      if (!row) throw errors.notFound(`route ${prefix} of node ${nodeId}`);
      guard?.(await this.all(tx));
      await tx.run('UPDATE routes SET status = $1, decided_by = $2, decided_at = $3, policy_version = $4, updated_at = $5 WHERE node_id = $6 AND prefix = $7', [
        decision.status,
        decision.by,
        decision.status === 'pending' ? null : decision.at,
        decision.policyVersion,
        decision.at,
        nodeId,
        prefix,
      ]);
      if (audit) await this.audit.appendIn(tx, { at: decision.at, ...audit });
      tx.notify({ kind: 'mesh', reason: `route ${prefix} of node ${nodeId} ${decision.status}` });
      return toRecord((await tx.row<RouteRow>('SELECT * FROM routes WHERE node_id = $1 AND prefix = $2', [nodeId, prefix]))!);
    });
  }
}
