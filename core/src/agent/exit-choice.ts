/**
 * ExitChoice: which exit node this node sends its other traffic through (`trellis up --exit-node n3
 * [--exit-node-fallback n4]`). The map offers every approved exit node the access policy lets this
 * node use (routes of kind exit); the preferred one is used while it is offered and online, else
 * the fallback; a node that moved to its fallback goes back only once the preferred one has been
 * back for the hold-down, so a flapping exit node does not flap the traffic.
 */
import type { NetworkMap } from '../netmap/types';

export const EXIT_HOLD_DOWN_MS = 10_000;

export interface ExitPrefs {
  exitNode: string | null;
  exitNodeFallback: string | null;
}

export interface ExitState {
  /** Peer id and name in use; null: no exit node (traffic leaves locally). */
  current: { id: string; name: string } | null;
  /** Why the preferred exit node is not in use, for `trellis status`; null when it is. */
  problem: string | null;
}

export class ExitChoice {
  private current: { id: string; name: string } | null = null;
  private preferredSince: number | null = null;

  constructor(
    private readonly prefs: ExitPrefs,
    private readonly holdDownMs = EXIT_HOLD_DOWN_MS,
  ) {}

  get enabled(): boolean {
    return this.prefs.exitNode !== null;
  }

  /** choose decides for one map at time now; wakeAt is when to decide again (a hold-down ends), or null. */
  choose(map: NetworkMap, now: number): ExitState & { wakeAt: number | null } {
    if (!this.prefs.exitNode) return { current: null, problem: null, wakeAt: null };
    const offered = new Set(map.routes.filter((r) => r.kind === 'exit').map((r) => r.via));
    const find = (name: string | null) => (name === null ? undefined : map.peers.find((p) => p.name === name && p.id !== map.self.id));
    const usable = (name: string | null) => {
      const p = find(name);
      return p && offered.has(p.id) && p.online ? p : undefined;
    };
    const why = (name: string) => {
      const p = find(name);
      if (!p) return `exit node ${name} is not a peer of this node (no such node, or the access policy does not allow it)`;
      if (!offered.has(p.id)) return `exit node ${name} does not offer an approved exit route (\`trellis up --advertise-exit\` and \`trellis routes approve ${name} 0.0.0.0/0\`)`;
      return `exit node ${name} is offline`;
    };
    const preferred = usable(this.prefs.exitNode);
    const fallback = usable(this.prefs.exitNodeFallback);
    let wakeAt: number | null = null;
    if (preferred) {
      if (this.preferredSince === null) this.preferredSince = now;
      const onFallback = this.current !== null && this.current.id !== preferred.id && fallback !== undefined && this.current.id === fallback.id;
      if (onFallback && now - this.preferredSince < this.holdDownMs) {
        wakeAt = this.preferredSince + this.holdDownMs;
      } else {
        this.current = { id: preferred.id, name: preferred.name };
      }
    } else {
      this.preferredSince = null;
      this.current = fallback ? { id: fallback.id, name: fallback.name } : null;
    }
    const problem = preferred && this.current?.id === preferred.id ? null : preferred ? `exit node ${this.prefs.exitNode} is back; switching to it after the hold-down` : why(this.prefs.exitNode);
    return { current: this.current, problem, wakeAt };
  }
}
