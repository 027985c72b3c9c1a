/**
 * RouteTable: the controller's decisions on routes, made before maps are built. It holds the
 * stored routes (store/route-repository.ts), the gateways' health reports, and which gateway is the
 * primary of each subnet prefix:
 *
 * - a route is installed anywhere only once approved (by an admin, or by the policy through the
 *   approveRoute hook) and while its gateway advertises it;
 * - among the approved gateways of one prefix the primary is the highest-priority healthy one
 *   (healthy = its map stream is open and its `--route-check` target answers), ties by node id;
 * - no flap-back: a gateway that lost the primary role takes it back from a healthy primary only
 *   after the hold-down has passed since it lost it; a primary that fails is replaced at once.
 *
 * Every change that moves a primary or an approval calls `changed` (the map streamer rebuilds).
 */
import { ExitUseTable } from './exit-use';
import type { HookRunner } from '../plugins/hook-runner';
import type { Logger } from '../log/logger';
import type { NodeInfo } from '../api/node-info';
import { errors } from '../errors';
import { checkAdvertisement, isExitPrefix, prefixesOverlapText } from '../netmap/route-rules';
import type { NodeRecord, RouteRecord, Store } from '../store/store';
import type { RouteView, RoutesRequest } from '../wire';
import type { RouteMetricsSnapshot } from '../metrics/route-metrics';

/** How long a gateway that lost the primary role waits before it may take it back, ms. */
export const DEFAULT_ROUTE_HOLD_DOWN_MS = 60_000;

export interface RouteTableOptions {
  store: Store;
  hooks: HookRunner;
  log: Logger;
  clock: () => number;
  isOnline: (nodeId: string) => boolean;
  /** NodeInfo of a node in the current mesh, for the policy's approval; null when it is not live. */
  nodeInfo: (nodeId: string) => NodeInfo | null;
  /** Records a failover in the audit log (route.primary.moved). */
  audit?: (entry: { action: string; actor: string; target: string | null; details: Record<string, unknown> }) => Promise<void> | void;
  /** Primaries or approvals moved: rebuild maps. `full`: a node's subnets changed (access must decide again). */
  changed: (reason: string, full: boolean) => void;
  holdDownMs?: number;
}

/** One primary choice: the gateway peers route a prefix through. */
export interface PrimaryRoute {
  prefix: string;
  gateway: string;
  kind: 'subnet' | 'exit';
}

interface PrimaryState {
  nodeId: string;
  since: number;
}

const key = (nodeId: string, prefix: string) => `${nodeId} ${prefix}`;
const byPrefixThenNode = (a: RouteRecord, b: RouteRecord) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0);

export class RouteTable {
  private records: RouteRecord[] = [];
  /** nodeId prefix -> the gateway's last report on its check target. */
  private readonly checks = new Map<string, boolean>();
  private readonly primaries = new Map<string, PrimaryState>();
  /** nodeId prefix -> when that gateway lost the primary role. */
  private readonly demotedAt = new Map<string, number>();
  private subnetCache = new Map<string, readonly string[]>();
  private advertisedCache = new Map<string, ReadonlySet<string>>();
  private holdDownTimer: NodeJS.Timeout | null = null;
  private readonly holdDownMs: number;
  /** Which nodes are live in the mesh being built (set by plan). */
  private isLive: (nodeId: string) => boolean = () => false;
  /** How many times a primary moved, for metrics. */
  failovers = 0;
  /** Which exit node each client uses, as clients report it (`usedBy` of exit routes). */
  readonly exitUse = new ExitUseTable();

  constructor(private readonly o: RouteTableOptions) {
    this.holdDownMs = o.holdDownMs ?? DEFAULT_ROUTE_HOLD_DOWN_MS;
  }

  async load(): Promise<void> {
    this.setRecords(await this.o.store.listRoutes());
  }

  /**
   * plan chooses the primaries for a mesh about to be sent (isLive: the node is in it) and returns
   * them; the map streamer calls it on every batch, so presence changes move primaries too.
   */
  plan(isLive: (nodeId: string) => boolean): PrimaryRoute[] {
    this.isLive = isLive;
    this.choosePrimaries();
    return this.primaryRoutes();
  }

  close(): void {
    if (this.holdDownTimer) clearTimeout(this.holdDownTimer);
    this.holdDownTimer = null;
  }

  private setRecords(records: RouteRecord[]): void {
    this.records = records.slice().sort(byPrefixThenNode);
    const subnets = new Map<string, string[]>();
    const advertised = new Map<string, Set<string>>();
    for (const r of this.records) {
      if (!r.advertised) continue;
      let a = advertised.get(r.nodeId);
      if (!a) advertised.set(r.nodeId, (a = new Set()));
      a.add(r.prefix);
      if (r.status !== 'approved') continue;
      let s = subnets.get(r.nodeId);
      if (!s) subnets.set(r.nodeId, (s = []));
      s.push(r.prefix);
    }
    this.subnetCache = new Map([...subnets].map(([id, list]) => [id, Object.freeze(list.sort())]));
    this.advertisedCache = advertised;
  }

  /** subnetsOf: the approved, advertised prefixes a node serves (NodeInfo.subnets). */
  subnetsOf(nodeId: string): readonly string[] {
    return this.subnetCache.get(nodeId) ?? EMPTY;
  }

  /** advertisedBy: every prefix a node advertises, approved or not (it never routes those into its tunnel). */
  advertisedBy(nodeId: string): ReadonlySet<string> {
    return this.advertisedCache.get(nodeId) ?? EMPTY_SET;
  }

  /** isGateway: the node advertises any route (its presence moves primaries). */
  isGateway(nodeId: string): boolean {
    return this.advertisedCache.has(nodeId);
  }

  private healthy(r: RouteRecord): boolean {
    return this.o.isOnline(r.nodeId) && this.checks.get(key(r.nodeId, r.prefix)) !== false;
  }

  /** usable: approved and advertised by a gateway still live in the mesh (nodeInfo is null once it is revoked or expired). */
  private usable(r: RouteRecord): boolean {
    return r.status === 'approved' && r.advertised && this.isLive(r.nodeId);
  }

  /**
   * choosePrimaries applies the rule in the header to every subnet prefix; true when a primary
   * moved. Exit routes have no primary: each client picks its exit node.
   */
  private choosePrimaries(): boolean {
    const now = this.o.clock();
    const byPrefix = new Map<string, RouteRecord[]>();
    for (const r of this.records) {
      if (r.kind !== 'subnet' || !this.usable(r)) continue;
      let list = byPrefix.get(r.prefix);
      if (!list) byPrefix.set(r.prefix, (list = []));
      list.push(r);
    }
    let moved = false;
    let nextExpiry = Infinity;
    for (const prefix of [...this.primaries.keys()]) {
      if (!byPrefix.has(prefix)) {
        this.primaries.delete(prefix);
        moved = true;
      }
    }
    for (const [prefix, list] of byPrefix) {
      const ranked = list.slice().sort((a, b) => b.priority - a.priority || (a.nodeId < b.nodeId ? -1 : 1));
      const current = this.primaries.get(prefix);
      const currentRec = current ? ranked.find((r) => r.nodeId === current.nodeId) : undefined;
      let choice: RouteRecord | undefined;
      if (currentRec && this.healthy(currentRec)) {
        // Preempt only with a better gateway that is out of its hold-down.
        choice = currentRec;
        for (const r of ranked) {
          if (r === currentRec || r.priority <= currentRec.priority) break;
          if (!this.healthy(r)) continue;
          const demoted = this.demotedAt.get(key(r.nodeId, prefix));
          if (demoted !== undefined && now - demoted < this.holdDownMs) {
            nextExpiry = Math.min(nextExpiry, demoted + this.holdDownMs);
            continue;
          }
          choice = r;
          break;
        }
      } else {
        choice = ranked.find((r) => this.healthy(r)) ?? currentRec ?? ranked[0];
      }
      if (!choice) continue;
      if (!current || current.nodeId !== choice.nodeId) {
        if (current && currentRec) this.demotedAt.set(key(current.nodeId, prefix), now);
        if (current) {
          this.failovers++;
          const reason = !currentRec ? 'gone' : !this.o.isOnline(current.nodeId) ? 'offline' : this.checks.get(key(current.nodeId, prefix)) === false ? 'check failing' : 'preferred gateway back';
          this.o.log.info({ prefix, from: current.nodeId, to: choice.nodeId, reason }, 'route primary moved');
          void this.o.audit?.({ action: 'route.primary.moved', actor: 'controller', target: choice.nodeId, details: { prefix, from: current.nodeId, to: choice.nodeId, reason } });
        }
        this.primaries.set(prefix, { nodeId: choice.nodeId, since: now });
        moved = true;
      }
    }
    if (this.holdDownTimer) clearTimeout(this.holdDownTimer);
    this.holdDownTimer = null;
    if (Number.isFinite(nextExpiry)) {
      this.holdDownTimer = setTimeout(() => this.reconsider('hold-down over'), Math.max(0, nextExpiry - now) + 5);
      this.holdDownTimer.unref();
    }
    return moved;
  }

  /** reconsider chooses primaries again (a gateway came or went, a check changed, a hold-down ended). */
  reconsider(reason: string): void {
    if (this.choosePrimaries()) this.o.changed(`routes: ${reason}`, false);
  }

  /** primaryRoutes: the subnet primaries, then every usable exit route, in prefix order. */
  primaryRoutes(): PrimaryRoute[] {
    const out: PrimaryRoute[] = [];
    for (const [prefix, p] of this.primaries) out.push({ prefix, gateway: p.nodeId, kind: 'subnet' });
    for (const r of this.records) if (r.kind === 'exit' && this.usable(r)) out.push({ prefix: r.prefix, gateway: r.nodeId, kind: 'exit' });
    return out.sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : a.gateway < b.gateway ? -1 : 1));
  }

  /**
   * advertise records what a gateway advertises and the health of its checks. The whole request is
   * checked first (route-rules.ts); on refusal nothing is stored. New routes are offered to the
   * policy (approveRoute); the rest wait for an admin.
   */
  async advertise(node: NodeRecord, body: RoutesRequest, overlay: { ipv4Cidr: string; ipv6Prefix: string }): Promise<RouteRecord[]> {
    const routes = checkAdvertisement({ routes: body.routes, priority: body.priority, exit: body.exit }, overlay);
    const now = this.o.clock();
    const { routes: stored, changed } = await this.o.store.advertiseRoutes(node.id, routes, now, {
      action: 'node.routes.advertised',
      actor: `node:${node.id}`,
      target: node.id,
      details: { name: node.name, routes: routes.map((r) => r.prefix), priority: body.priority },
    });
    let healthMoved = false;
    for (const r of routes) {
      const k = key(node.id, r.prefix);
      const reported = r.check === null ? undefined : body.health[r.prefix];
      const before = this.checks.get(k);
      if (reported === undefined) this.checks.delete(k);
      else this.checks.set(k, reported);
      if (before !== reported) healthMoved = true;
    }
    let decided = false;
    for (const r of stored) {
      if (r.advertised && r.status === 'pending' && r.decidedBy === null) decided = (await this.askPolicy(node, r)) || decided;
    }
    if (changed || decided) {
      this.setRecords(await this.o.store.listRoutes());
      this.choosePrimaries();
      this.o.changed(`routes of ${node.name}`, true);
    } else if (healthMoved) {
      this.reconsider(`route health of ${node.name}`);
    }
    return (await this.o.store.listRoutes()).filter((r) => r.nodeId === node.id);
  }

  /** askPolicy runs approveRoute for a pending route; true when the policy approved it. */
  private async askPolicy(node: NodeRecord, r: RouteRecord): Promise<boolean> {
    if (!this.o.hooks.has('approveRoute')) return false;
    const info = this.o.nodeInfo(node.id);
    if (!info) return false;
    try {
      const answer = await this.o.hooks.runFirst('approveRoute', { node: info, prefix: r.prefix, kind: r.kind });
      if (!answer || !answer.approved) return false;
      await this.o.store.decideRoute(
        node.id,
        r.prefix,
        { status: 'approved', by: 'policy', policyVersion: answer.version, at: this.o.clock() },
        { action: 'route.approved', actor: 'policy', target: node.id, details: { name: node.name, prefix: r.prefix, kind: r.kind, reason: answer.reason, policyVersion: answer.version } },
        (all) => this.guardOverlap(node.id, r.prefix, all, (id) => id),
      );
      return true;
    } catch (err) {
      this.o.log.warn({ err, prefix: r.prefix, node: node.name }, 'the policy could not approve a route; it waits for an admin');
      return false;
    }
  }

  /** guardOverlap refuses approving a prefix that overlaps, without being equal to, another gateway's approved route. */
  private guardOverlap(nodeId: string, prefix: string, all: readonly RouteRecord[], nameOf: (id: string) => string): void {
    if (isExitPrefix(prefix)) return;
    for (const o of all) {
      if (o.nodeId === nodeId || o.status !== 'approved' || o.kind !== 'subnet' || o.prefix === prefix) continue;
      if (prefixesOverlapText(o.prefix, prefix)) throw errors.routeConflict(prefix, o.prefix, nameOf(o.nodeId));
    }
  }

  /** decide is an admin's approve or reject (audited in the same transaction). */
  async decide(node: NodeRecord, prefix: string, decision: 'approve' | 'reject', actor: string): Promise<RouteRecord> {
    const status = decision === 'approve' ? 'approved' : 'rejected';
    const known = this.records.find((r) => r.nodeId === node.id && r.prefix === prefix);
    if (!known) throw errors.notFound(`route ${prefix} of node "${node.name}" (see \`trellis routes\`)`);
    const names = new Map((await this.o.store.listNodes()).map((n) => [n.id, n.name]));
    const record = await this.o.store.decideRoute(
      node.id,
      prefix,
      { status, by: actor, policyVersion: null, at: this.o.clock() },
      { action: `route.${status}`, actor, target: node.id, details: { name: node.name, prefix, kind: known.kind } },
      decision === 'approve' ? (all) => this.guardOverlap(node.id, prefix, all, (id) => names.get(id) ?? id) : undefined,
    );
    this.setRecords(await this.o.store.listRoutes());
    this.choosePrimaries();
    this.o.changed(`route ${prefix} of ${node.name} ${status}`, true);
    return record;
  }

  /** view: every stored route for `trellis routes`. */
  view(names: ReadonlyMap<string, string>): RouteView[] {
    return this.records.map((r) => {
      const check = this.checks.get(key(r.nodeId, r.prefix));
      const online = this.o.isOnline(r.nodeId);
      const primary = r.kind === 'subnet' ? this.primaries.get(r.prefix)?.nodeId === r.nodeId : this.usable(r);
      return {
        node: names.get(r.nodeId) ?? r.nodeId,
        nodeId: r.nodeId,
        prefix: r.prefix,
        kind: r.kind,
        priority: r.priority,
        check: r.check,
        advertised: r.advertised,
        status: r.status,
        decidedBy: r.decidedBy,
        decidedAt: r.decidedAt,
        online,
        checkOk: r.check === null ? null : (check ?? null),
        healthy: online && check !== false,
        primary: primary && this.usable(r),
        ...(r.kind === 'exit' ? { usedBy: this.exitUse.usersOf(names.get(r.nodeId) ?? r.nodeId, this.o.isOnline).map((id) => names.get(id) ?? id) } : {}),
      };
    });
  }

  /** metrics: the RouteMetrics snapshot (names: node id -> name). */
  metrics(names: (id: string) => string): RouteMetricsSnapshot {
    const c = this.counts();
    const gateways = this.records
      .filter((r) => r.kind === 'subnet' && this.usable(r))
      .map((r) => ({ prefix: r.prefix, gateway: names(r.nodeId), healthy: this.healthy(r), primary: this.primaries.get(r.prefix)?.nodeId === r.nodeId }));
    return { ...c, failovers: this.failovers, gateways };
  }

  /** counts for metrics: routes by status, and subnet prefixes without a healthy gateway. */
  counts(): { byStatus: Record<'pending' | 'approved' | 'rejected', number>; prefixes: number; unhealthyPrefixes: number } {
    const byStatus = { pending: 0, approved: 0, rejected: 0 };
    for (const r of this.records) if (r.advertised) byStatus[r.status]++;
    let unhealthy = 0;
    for (const [prefix] of this.primaries) {
      if (!this.records.some((r) => r.prefix === prefix && r.kind === 'subnet' && this.usable(r) && this.healthy(r))) unhealthy++;
    }
    return { byStatus, prefixes: this.primaries.size, unhealthyPrefixes: unhealthy };
  }
}

const EMPTY: readonly string[] = Object.freeze([]);
const EMPTY_SET: ReadonlySet<string> = new Set();
