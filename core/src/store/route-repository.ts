/**
 * Routes: the prefixes gateways advertise (subnets behind them, or 0.0.0.0/0 and ::/0 for an exit
 * node) and the decision on each. Nothing is installed anywhere before a route is approved. A route
 * the gateway stops advertising stays stored (not advertised) with its decision, so a gateway that
 * comes back with the same route needs no second approval.
 */
import type { AdvertisedRoute } from '../netmap/route-rules';
import type { AuditEntry } from './audit-repository';

export type RouteStatus = 'pending' | 'approved' | 'rejected';

/** RouteRecord: one (gateway, prefix) pair. */
export interface RouteRecord {
  nodeId: string;
  /** Canonical prefix (netmap/route-rules.ts). */
  prefix: string;
  kind: 'subnet' | 'exit';
  /** Among healthy gateways of one prefix the highest priority is primary. */
  priority: number;
  /** The address behind the gateway it pings to tell whether the prefix is reachable; null: none. */
  check: string | null;
  /** False once the gateway stopped advertising it. */
  advertised: boolean;
  status: RouteStatus;
  /** Who decided: "admin", "policy", or null while pending. */
  decidedBy: string | null;
  decidedAt: number | null;
  /** The policy version that approved it when decidedBy is "policy". */
  policyVersion: string | null;
  /** When the gateway first advertised it, and when it last changed. */
  advertisedAt: number;
  updatedAt: number;
}

export interface RouteDecision {
  status: RouteStatus;
  by: string | null;
  policyVersion: string | null;
  at: number;
}

export interface RouteRepository {
  /** Every stored route, by node id then prefix. */
  listRoutes(): Promise<RouteRecord[]>;
  /**
   * advertiseRoutes makes routes what the node advertises, in one transaction: a new route is
   * pending, a known one keeps its decision and takes the new priority and check, and a route not
   * listed any more stays as not advertised. The audit entry is written only when something
   * changed. Returns the node's routes.
   */
  advertiseRoutes(nodeId: string, routes: readonly AdvertisedRoute[], at: number, audit: AuditEntry): Promise<{ routes: RouteRecord[]; changed: boolean }>;
  /**
   * decideRoute sets a route's status, with its audit entry (null: none, e.g. a policy decision that
   * did not change anything) in one transaction. `guard` runs inside the transaction with every
   * stored route and may throw to refuse (an overlap with another gateway's approved route).
   * Throws NOT_FOUND for an unknown route.
   */
  decideRoute(
    nodeId: string,
    prefix: string,
    decision: RouteDecision,
    audit: AuditEntry | null,
    guard?: (all: readonly RouteRecord[]) => void,
  ): Promise<RouteRecord>;
}
