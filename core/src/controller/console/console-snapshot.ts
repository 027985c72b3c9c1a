import type { PostureDecision } from '../../api/hooks';
import type { ControllerServices } from '../controller-services';
import type { LivePath, LiveTelemetry } from '../live-telemetry';
import type { LiveAlerts } from '../../api/live-alerts';
import { liveAlerts } from '../live-alerts';
import type { PluginSources } from '../plugin-sources';
import type { AuditEvent, RouteView } from '../../wire';
import type { ExitUse } from '../exit-use';


export interface ConsoleNode {
  id: string;
  name: string;
  online: boolean;
  approved: boolean;
  ipv4: string;
  ipv6: string;
  endpoints: string[];
  lastSeen: number | null;
  posture: PostureDecision | null;
  /** The controller's posture decision says non-compliant: peers drop the node. */
  quarantined: boolean;
  /** The exit node it uses (`--exit-node`), as it last reported; null when it chose none. */
  exit: ConsoleExitUse | null;
  /** It offers itself as an exit node (`--advertise-exit`): the approval and who uses it now; null when it does not. */
  exitOffer: ConsoleExitOffer | null;
}

export interface ConsoleExitUse {
  preferred: string;
  fallback: string | null;
  /** null: no exit node in use, its traffic leaves locally. */
  inUse: string | null;
  /** in-use: the chosen one carries its traffic; fallback: the fallback does; none: neither. */
  state: 'in-use' | 'fallback' | 'none';
  problem: string | null;
  switches: number;
}

export interface ConsoleExitOffer {
  /** approved once both default routes are; rejected when either is; else pending. */
  status: 'approved' | 'pending' | 'rejected';
  /** Nodes whose traffic leaves through it now. */
  usedBy: string[];
}

/** A live path with what the console shows: the peer's endpoint and one state. */
export interface ConsolePath extends LivePath {
  endpoint: string | null;
  /**
   * down: tunnel reported down, an end offline, or no report for 15 s; degraded: some recent loss;
   * unknown: no probe figures yet (the peer has not answered a probe), which is neither up nor lossy.
   */
  state: 'up' | 'degraded' | 'down' | 'unknown';
  /** The destination is the exit node the source's other traffic leaves through. */
  exitNode: boolean;
}

export interface ConsoleSnapshot {
  at: number;
  nodes: ConsoleNode[];
  paths: ConsolePath[];
  /** The live alerts (ControllerAccess.registerAlerts) as their source answers; null hides the alerts panel. */
  alerts: LiveAlerts | null;
  audit: AuditEvent[];
  history: boolean;
}

/** Recently resolved alerts the console shows at most. */
const CONSOLE_ALERTS = 50;

const STALE_MS = 15_000;

/**
 * pathState is the one state the console shows for a path: down when the tunnel is reported down,
 * an end is offline or nothing came for 15 s; unknown while there is no probe figure (the peer has
 * not answered a probe yet: neither healthy nor lossy); degraded with any recent loss; else up.
 */
export function pathState(p: Pick<LivePath, 'up' | 'loss' | 'updatedAt'>, srcOnline: boolean, dstOnline: boolean, now: number): ConsolePath['state'] {
  if (p.up === false || !srcOnline || !dstOnline || now - p.updatedAt > STALE_MS) return 'down';
  if (p.loss === null) return 'unknown';
  return p.loss > 0 ? 'degraded' : 'up';
}

/** exitUseOf: a client's exit report as the console shows it. */
export function exitUseOf(u: ExitUse | null): ConsoleExitUse | null {
  if (!u) return null;
  const state = u.inUse === null ? 'none' : u.inUse === u.preferred ? 'in-use' : 'fallback';
  return { preferred: u.preferred, fallback: u.fallback, inUse: u.inUse, state, problem: u.problem, switches: u.switches };
}

/** exitOffers: per node id, its advertised exit routes summed up (both default routes approved: approved). */
export function exitOffers(routes: readonly RouteView[]): Map<string, ConsoleExitOffer> {
  const out = new Map<string, ConsoleExitOffer>();
  for (const r of routes) {
    if (r.kind !== 'exit' || !r.advertised) continue;
    const o = out.get(r.nodeId);
    const usedBy = [...new Set([...(o?.usedBy ?? []), ...(r.usedBy ?? [])])].sort();
    const status = !o ? r.status : o.status === 'rejected' || r.status === 'rejected' ? 'rejected' : o.status === 'approved' && r.status === 'approved' ? 'approved' : 'pending';
    out.set(r.nodeId, { status, usedBy });
  }
  return out;
}

/** buildConsoleSnapshot reads the store, presence, live telemetry and the plugins' sources; it audits nothing. */
export async function buildConsoleSnapshot(
  s: ControllerServices,
  live: LiveTelemetry,
  sources: PluginSources,
  opts: { auditLimit?: number } = {},
): Promise<ConsoleSnapshot> {
  const now = s.clock();
  const records = (await s.store.listNodes()).filter((n) => !n.revoked);
  const offers = exitOffers(s.routes.view(new Map(records.map((n) => [n.id, n.name]))));
  const nodes: ConsoleNode[] = records
    .map((n) => ({
      id: n.id,
      name: n.name,
      online: s.presence.isOnline(n.id),
      approved: n.approved !== false,
      ipv4: n.ipv4,
      ipv6: n.ipv6,
      endpoints: n.endpoints,
      lastSeen: s.presence.lastSeen(n.id, n.lastSeen),
      posture: n.posture,
      quarantined: n.posture?.compliant === false,
      exit: exitUseOf(s.routes.exitUse.get(n.id)),
      exitOffer: offers.get(n.id) ?? null,
    }))
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const paths: ConsolePath[] = live
    .snapshot()
    .filter((p) => byName.has(p.src) && byName.has(p.dst))
    .map((p) => {
      const src = byName.get(p.src)!;
      const dst = byName.get(p.dst)!;
      return { ...p, endpoint: dst.endpoints[0] ?? null, state: pathState(p, src.online, dst.online, now), exitNode: src.exit?.inUse === dst.name };
    });
  let alerts: LiveAlerts | null = null;
  if (sources.alerts) {
    try {
      alerts = await liveAlerts(sources, CONSOLE_ALERTS);
    } catch (err) {
      s.log.warn({ err }, 'console: the live alerts source failed');
    }
  }
  const audit = await s.store.listAudit(opts.auditLimit ?? 25);
  return { at: now, nodes, paths, alerts, audit, history: sources.pathHistory !== null };
}
