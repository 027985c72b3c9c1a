import type Database from 'better-sqlite3';
import { errors } from '../../errors';
import type { AdvertisedRoute } from '../../netmap/route-rules';
import type { AuditEntry } from '../audit-repository';
import type { RouteDecision, RouteRecord, RouteRepository, RouteStatus } from '../route-repository';
import type { SqliteAuditRepository } from './sqlite-audit-repository';

interface RouteRow {
  node_id: string;
  prefix: string;
  kind: 'subnet' | 'exit';
  priority: number;
  check_target: string | null;
  advertised: number;
  status: RouteStatus;
  decided_by: string | null;
  decided_at: number | null;
  policy_version: string | null;
  advertised_at: number;
  updated_at: number;
}

const toRecord = (r: RouteRow): RouteRecord => ({
  nodeId: r.node_id,
  prefix: r.prefix,
  kind: r.kind,
  priority: r.priority,
  check: r.check_target,
  advertised: r.advertised === 1,
  status: r.status,
  decidedBy: r.decided_by,
  decidedAt: r.decided_at,
  policyVersion: r.policy_version,
  advertisedAt: r.advertised_at,
  updatedAt: r.updated_at,
});

/** SqliteRouteRepository keeps routes in the routes table (migration 6), one row per (node, prefix). */
export class SqliteRouteRepository implements RouteRepository {
  constructor(
    private readonly db: Database.Database,
    private readonly audit: SqliteAuditRepository,
  ) {}

  private allSync(): RouteRecord[] {
    return (this.db.prepare('SELECT * FROM routes ORDER BY node_id, prefix').all() as RouteRow[]).map(toRecord);
  }

  private ofSync(nodeId: string): RouteRecord[] {
    return (this.db.prepare('SELECT * FROM routes WHERE node_id = ? ORDER BY prefix').all(nodeId) as RouteRow[]).map(toRecord);
  }

  async listRoutes(): Promise<RouteRecord[]> {
    return this.allSync();
  }

  async advertiseRoutes(nodeId: string, routes: readonly AdvertisedRoute[], at: number, audit: AuditEntry): Promise<{ routes: RouteRecord[]; changed: boolean }> {
    return this.db.transaction(() => {
      const before = new Map(this.ofSync(nodeId).map((r) => [r.prefix, r]));
      const listed = new Set(routes.map((r) => r.prefix));
      let changed = false;
      for (const r of routes) {
        const old = before.get(r.prefix);
        if (!old) {
          this.db
            .prepare(
              `INSERT INTO routes (node_id, prefix, kind, priority, check_target, advertised, status, advertised_at, updated_at)
               VALUES (?, ?, ?, ?, ?, 1, 'pending', ?, ?)`,
            )
            .run(nodeId, r.prefix, r.kind, r.priority, r.check, at, at);
          changed = true;
        } else if (!old.advertised || old.priority !== r.priority || old.check !== r.check || old.kind !== r.kind) {
          this.db
            .prepare('UPDATE routes SET kind = ?, priority = ?, check_target = ?, advertised = 1, updated_at = ? WHERE node_id = ? AND prefix = ?')
            .run(r.kind, r.priority, r.check, at, nodeId, r.prefix);
          changed = true;
        }
      }
      for (const old of before.values()) {
        if (old.advertised && !listed.has(old.prefix)) {
          this.db.prepare('UPDATE routes SET advertised = 0, updated_at = ? WHERE node_id = ? AND prefix = ?').run(at, nodeId, old.prefix);
          changed = true;
        }
      }
      if (changed) this.audit.appendSync({ at, ...audit });
      return { routes: this.ofSync(nodeId), changed };
    })();
  }

  async decideRoute(
    nodeId: string,
    prefix: string,
    decision: RouteDecision,
    audit: AuditEntry | null,
    guard?: (all: readonly RouteRecord[]) => void,
  ): Promise<RouteRecord> {
    return this.db.transaction(() => {
      const row = this.db.prepare('SELECT * FROM routes WHERE node_id = ? AND prefix = ?').get(nodeId, prefix) as RouteRow | undefined;
      if (!row) throw errors.notFound(`route ${prefix} of node ${nodeId}`);
      guard?.(this.allSync());
      this.db
        .prepare('UPDATE routes SET status = ?, decided_by = ?, decided_at = ?, policy_version = ?, updated_at = ? WHERE node_id = ? AND prefix = ?')
        .run(decision.status, decision.by, decision.status === 'pending' ? null : decision.at, decision.policyVersion, decision.at, nodeId, prefix);
      if (audit) this.audit.appendSync({ at: decision.at, ...audit });
      return toRecord(this.db.prepare('SELECT * FROM routes WHERE node_id = ? AND prefix = ?').get(nodeId, prefix) as RouteRow);
    })();
  }
}
