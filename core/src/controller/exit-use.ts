/**
 * ExitUseTable: which exit node each client uses, as the clients report it (ExitUseRequest, on every
 * connect and on every change). The choice is the client's (its prefs), so the controller only
 * learns it; it is held in memory, and a restarted controller hears it again when clients reconnect.
 */
import type { ExitUseRequest } from '../wire';

/** ExitUse: one client's last report and when the controller received it. */
export interface ExitUse extends ExitUseRequest {
  reportedAt: number;
}

export class ExitUseTable {
  private readonly uses = new Map<string, ExitUse>();

  /** set stores a client's report; true when it differs from the one before. */
  set(nodeId: string, report: ExitUseRequest, at: number): boolean {
    const before = this.uses.get(nodeId);
    const next: ExitUse = {
      preferred: report.preferred,
      fallback: report.fallback,
      inUse: report.inUse,
      problem: report.problem,
      switches: report.switches,
      reportedAt: at,
    };
    this.uses.set(nodeId, next);
    return !before || before.preferred !== next.preferred || before.fallback !== next.fallback || before.inUse !== next.inUse || before.problem !== next.problem;
  }

  /** get: the node's last report, or null when it never said it uses an exit node. */
  get(nodeId: string): ExitUse | null {
    return this.uses.get(nodeId) ?? null;
  }

  /** forget drops a node's report (the node was removed). */
  forget(nodeId: string): void {
    this.uses.delete(nodeId);
  }

  /** usersOf: the ids of the nodes whose traffic leaves through the exit node of this name now, sorted. */
  usersOf(exitName: string, isOnline: (nodeId: string) => boolean): string[] {
    const out: string[] = [];
    for (const [id, u] of this.uses) if (u.inUse === exitName && isOnline(id)) out.push(id);
    return out.sort();
  }
}
