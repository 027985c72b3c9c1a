/**
 * CandidateBook turns what the agent finds of its own endpoints (addresses of its underlay
 * interfaces, its reflexive addresses from STUN and relays) into the structured candidates it
 * reports (candidate version 2): each with its kind, where it came from and when it was first
 * learned. learnedAt stays the same while an address is seen, so an unchanged set reports the
 * same list (and the controller's store does not change); an address that goes and comes back is
 * learned again.
 */
import type { CandidateKind, EndpointCandidate } from '../netmap/types';

/** One address the agent found, before it is stamped. */
export interface FoundCandidate {
  kind: CandidateKind;
  address: string;
  source?: string;
}

/** The controller takes at most this many endpoints. */
export const MAX_CANDIDATES = 16;

export class CandidateBook {
  private readonly learned = new Map<string, number>();

  constructor(private readonly clock: () => number = Date.now) {}

  /**
   * stamp gives the candidates in the order found (local and uplink addresses first, then
   * reflexive ones), one per address (the first kind found wins), at most MAX_CANDIDATES.
   */
  stamp(found: readonly FoundCandidate[]): EndpointCandidate[] {
    const now = this.clock();
    const out: EndpointCandidate[] = [];
    const seen = new Set<string>();
    for (const f of found) {
      if (seen.has(f.address) || out.length >= MAX_CANDIDATES) continue;
      seen.add(f.address);
      const key = `${f.kind} ${f.address}`;
      let at = this.learned.get(key);
      if (at === undefined) {
        at = now;
        this.learned.set(key, at);
      }
      out.push({ kind: f.kind, address: f.address, learnedAt: at, ...(f.source ? { source: f.source } : {}) });
    }
    // Forget what is gone, so an address that comes back counts as learned anew.
    const keep = new Set(out.map((c) => `${c.kind} ${c.address}`));
    for (const k of [...this.learned.keys()]) if (!keep.has(k)) this.learned.delete(k);
    return out;
  }
}

/** underlayCandidates: the first interface's addresses are local, every other interface's an uplink. */
export function underlayCandidates(interfaces: ReadonlyArray<{ ifname: string; addresses: readonly string[] }>, port: number): FoundCandidate[] {
  return interfaces.flatMap((i, n) =>
    i.addresses.map((a): FoundCandidate => ({ kind: n === 0 ? 'local' : 'uplink', address: a.includes(':') ? `[${a}]:${port}` : `${a}:${port}`, source: i.ifname })),
  );
}
