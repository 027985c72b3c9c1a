/**
 * AccessIndex: an AccessDecision (api/access.ts) expanded for map building. It decides nothing: it
 * groups nodes by the grants they hold, answers whether two groups see each other, and builds
 * packet filters from the grants, with the semantics documented in api/access.ts.
 *
 * Nodes holding the same grants (src, srcByPrefix, dst and the grants of dstAt) form a class.
 * Whether two nodes see each other depends on their classes only: sees(k1, k2) = (S1 & D2) | (D1 & S2)
 * ≠ 0 over bitsets of grants. So a change to one node never changes whether two other classes see
 * each other, and peer lists are one per class (less the node itself when its class sees itself).
 * A grant's srcIps is one frozen sorted array shared by every filter entry that uses it, replaced
 * (not edited) when a named source joins or leaves.
 */
import { PluginErrorCode } from '../api/errors';
import { TrellisError } from '../errors';
import type { AccessDecision, AccessGrant, NodeGrants } from '../api/access';
import type { FilterRule } from '../netmap/types';
import { compareFilters } from '../netmap/filter-order';
import { sortedPosition } from './sorted-position';
import { FULL_MESH_TOPOLOGY, FULL_ROLE, Topology } from './topology';

/** What the index needs to know of a node: its grants and its own addresses, sorted. */
export interface IndexedNode {
  id: string;
  /** null: cut off (unapproved, or absent from the decision). */
  grants: NodeGrants | null;
  ownIps: readonly string[];
}

/** A class of nodes holding the same grants and topology role. What it sees never changes. */
export interface AccessClass {
  readonly id: number;
  readonly key: string;
  /** The members' topology role (topology.ts); FULL_ROLE in a full mesh. */
  readonly role: string;
  /** Grants it is a named source of: its members' addresses are in their srcIps. */
  readonly named: readonly number[];
  /** Live members. */
  readonly members: Set<string>;
}

const EMPTY: readonly string[] = Object.freeze([]);
const EMPTY_FILTER: FilterRule[] = Object.freeze([]) as unknown as FilterRule[];
const EMPTY_INTS: readonly number[] = Object.freeze([]);
/** The grants of every node when there is no decision: one class that sees itself. */
const FULL_MESH: NodeGrants = Object.freeze({ src: Object.freeze([0]), srcByPrefix: EMPTY_INTS, dst: Object.freeze([0]) });

const invalid = (what: string) =>
  new TrellisError(PluginErrorCode.ACCESS_DECISION_INVALID, `the access decision is invalid: ${what}; the maps in force stay (fix the decider plugin)`);

function sortedUnique(xs: readonly number[], grants: number, what: string): readonly number[] {
  if (!Array.isArray(xs)) throw invalid(`${what} is not an array`);
  let sorted = true;
  for (let i = 0; i < xs.length; i++) {
    const g = xs[i]!;
    if (!Number.isInteger(g) || g < 0 || g >= grants) throw invalid(`${what} holds ${String(g)}, not a position among its ${grants} grants`);
    if (i > 0 && !(xs[i - 1]! < g)) sorted = false;
  }
  return sorted ? xs : [...new Set(xs)].sort((a, b) => a - b);
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** normalizeGrants checks a decider's NodeGrants and returns them with positions sorted (the same object when they were). */
export function normalizeGrants(ng: NodeGrants, grants: number, nodeId: string): NodeGrants {
  if (typeof ng !== 'object' || ng === null) throw invalid(`node ${nodeId} has no grants object`);
  const src = sortedUnique(ng.src, grants, `src of node ${nodeId}`);
  const srcByPrefix = sortedUnique(ng.srcByPrefix, grants, `srcByPrefix of node ${nodeId}`);
  const dst = sortedUnique(ng.dst, grants, `dst of node ${nodeId}`);
  let dstAt = ng.dstAt;
  let dstAtChanged = false;
  if (dstAt !== undefined) {
    if (typeof dstAt !== 'object' || dstAt === null) throw invalid(`dstAt of node ${nodeId} is not an object`);
    const keys = Object.keys(dstAt);
    if (keys.length === 0) {
      dstAt = undefined;
      dstAtChanged = true;
    }
    for (const k of keys) {
      const g = Number(k);
      if (!Number.isInteger(g) || g < 0 || g >= grants) throw invalid(`dstAt of node ${nodeId} has grant ${k}, not a position among its ${grants} grants`);
      const addrs = (dstAt as Record<number, readonly string[]>)[g];
      if (!Array.isArray(addrs) || !addrs.every((a) => typeof a === 'string')) throw invalid(`dstAt[${k}] of node ${nodeId} is not a list of addresses`);
    }
  }
  if (src === ng.src && srcByPrefix === ng.srcByPrefix && dst === ng.dst && !dstAtChanged) return ng;
  return Object.freeze({ src, srcByPrefix, dst, ...(dstAt ? { dstAt } : {}) });
}

/** dstAtGrants: the grants of a node's dstAt, sorted. */
function dstAtGrants(ng: NodeGrants): number[] {
  return ng.dstAt ? Object.keys(ng.dstAt).map(Number).sort((a, b) => a - b) : [];
}

/** signature is the class key of a node's grants. */
function signature(ng: NodeGrants): string {
  return `${ng.src.join(',')}|${ng.srcByPrefix.join(',')}|${ng.dst.join(',')}|${dstAtGrants(ng).join(',')}`;
}

/** A grant as filters use it: its ports and prefixes frozen once, shared by every entry. */
interface GrantView {
  proto: FilterRule['proto'];
  dstPorts: Array<[number, number]>;
  srcPrefixes: readonly string[];
  prefixSet: ReadonlySet<string>;
}

function grantView(g: AccessGrant, i: number): GrantView {
  if (typeof g !== 'object' || g === null || !['tcp', 'udp', 'icmp', 'any'].includes(g.proto)) throw invalid(`grant ${i} has proto ${JSON.stringify((g as { proto?: unknown })?.proto)}, not tcp, udp, icmp or any`);
  if (!Array.isArray(g.dstPorts) || !g.dstPorts.every((p) => Array.isArray(p) && p.length === 2 && Number.isInteger(p[0]) && Number.isInteger(p[1]))) throw invalid(`grant ${i} has dstPorts that are not [from, to] pairs`);
  if (!Array.isArray(g.srcPrefixes) || !g.srcPrefixes.every((p) => typeof p === 'string')) throw invalid(`grant ${i} has srcPrefixes that are not strings`);
  const srcPrefixes = Object.freeze([...new Set(g.srcPrefixes)].sort(byString));
  return {
    proto: g.proto,
    dstPorts: Object.freeze(g.dstPorts.map((p) => Object.freeze([p[0], p[1]]) as [number, number])) as Array<[number, number]>,
    srcPrefixes,
    prefixSet: new Set(srcPrefixes),
  };
}

const same = (s: string) => s;

/** insertSorted / removeSorted give a new frozen array, or the same one when nothing changes. */
function insertSorted(list: readonly string[], x: string): readonly string[] {
  const lo = sortedPosition(list, x, same);
  if (lo < list.length && list[lo] === x) return list;
  const out = new Array<string>(list.length + 1);
  for (let i = 0; i < lo; i++) out[i] = list[i]!;
  out[lo] = x;
  for (let i = lo; i < list.length; i++) out[i + 1] = list[i]!;
  return Object.freeze(out);
}

function removeSorted(list: readonly string[], x: string): readonly string[] {
  const lo = sortedPosition(list, x, same);
  if (lo >= list.length || list[lo] !== x) return list;
  const out = new Array<string>(list.length - 1);
  for (let i = 0, j = 0; i < list.length; i++) if (i !== lo) out[j++] = list[i]!;
  return Object.freeze(out);
}

export class AccessIndex {
  /** False: no decider gave a decision; every approved node sees every other and filters are null. */
  readonly decided: boolean;
  readonly version: string | null;
  readonly grantCount: number;
  readonly classes: AccessClass[] = [];
  private readonly words: number;
  private readonly views: GrantView[];
  private readonly byKey = new Map<string, number>();
  /** The class of a NodeGrants object seen before: members of a class usually share one. */
  private readonly byObject = new WeakMap<NodeGrants, number>();
  private readonly srcIps: Array<readonly string[]>;
  private readonly rows = new Map<number, Uint8Array>();
  /**
   * Per class, `words` words of the grants it is a source of (src or srcByPrefix) and of those it
   * is a destination of (dst or dstAt), one flat array each (grown as classes are added).
   */
  private bitsS: Uint32Array;
  private bitsD: Uint32Array;
  /** Per grant, the classes that are its sources (src or srcByPrefix) and its destinations: rows are sums of these. */
  private readonly sourceClasses: number[][];
  private readonly destinationClasses: number[][];

  private constructor(
    decision: AccessDecision | null,
    /** Which pairs get direct tunnels; peers are decided by access and this together. */
    readonly topology: Topology,
  ) {
    this.decided = decision !== null;
    this.version = decision?.version ?? null;
    if (decision && !Array.isArray(decision.grants)) throw invalid('grants is not an array');
    this.views = decision ? decision.grants.map(grantView) : [];
    this.grantCount = decision ? decision.grants.length : 1;
    this.words = Math.max(1, (this.grantCount + 31) >>> 5);
    this.srcIps = this.views.map((v) => v.srcPrefixes);
    this.bitsS = new Uint32Array(64 * this.words);
    this.bitsD = new Uint32Array(64 * this.words);
    this.sourceClasses = Array.from({ length: this.grantCount }, () => []);
    this.destinationClasses = Array.from({ length: this.grantCount }, () => []);
  }

  /**
   * build indexes every node with its grants: decided from decision.nodes (checked here), or the
   * full mesh for approved nodes when there is no decision. Returns, in the nodes' order, each
   * node's grants and class (-1: cut off).
   */
  static build(
    decision: AccessDecision | null,
    nodes: ReadonlyArray<{ id: string; approved: boolean; ownIps: readonly string[]; role?: string }>,
    previous: AccessIndex | null = null,
    topology: Topology = FULL_MESH_TOPOLOGY,
  ): { index: AccessIndex; placed: Array<{ grants: NodeGrants | null; cls: number }> } {
    const index = new AccessIndex(decision, topology);
    const placed = nodes.map((n) => {
      const grants = index.grantsFor(decision, n.id, n.approved);
      const cls = grants ? index.classOf(grants, n.role ?? FULL_ROLE) : -1;
      if (cls >= 0) index.classes[cls]!.members.add(n.id);
      return { grants, cls };
    });
    index.fillSources(nodes.map((n, i) => ({ id: n.id, grants: placed[i]!.grants, ownIps: n.ownIps })));
    // An unchanged srcIps keeps the previous build's array: filters then compare by reference.
    if (previous && previous.decided && index.decided && previous.version === index.version && previous.grantCount === index.grantCount) {
      for (let g = 0; g < index.grantCount; g++) {
        const before = previous.srcIps[g]!;
        if (sameIps(before, index.srcIps[g]!)) index.srcIps[g] = before;
      }
    }
    return { index, placed };
  }

  /** grantsFor is what a node holds under a decision: checked, or null when it is cut off. */
  grantsFor(decision: AccessDecision | null, nodeId: string, approved: boolean): NodeGrants | null {
    if (!approved) return null;
    if (!decision) return FULL_MESH;
    const ng = decision.nodes.get(nodeId);
    return ng === undefined ? null : normalizeGrants(ng, this.grantCount, nodeId);
  }

  /** fillSources computes every grant's srcIps at once: addresses visited in sorted order, so no list needs sorting. */
  private fillSources(nodes: readonly IndexedNode[]): void {
    if (!this.decided) return;
    const addrs: Array<[string, readonly number[]]> = [];
    for (const n of nodes) {
      if (!n.grants || n.grants.src.length === 0) continue;
      for (const ip of n.ownIps) addrs.push([ip, n.grants.src]);
    }
    addrs.sort((a, b) => byString(a[0], b[0]));
    const lists: string[][] = this.views.map(() => []);
    for (const [ip, gs] of addrs) {
      for (const g of gs) {
        const l = lists[g]!;
        if (l[l.length - 1] !== ip) l.push(ip);
      }
    }
    lists.forEach((l, g) => {
      const prefixes = this.views[g]!.srcPrefixes;
      this.srcIps[g] = Object.freeze(prefixes.length === 0 ? l : mergeSorted(l, prefixes));
    });
  }

  /** classOf gives the class of a node's grants and topology role, making it when it is new. */
  classOf(ng: NodeGrants, role: string = FULL_ROLE): number {
    const plain = role === FULL_ROLE;
    if (plain) {
      const known = this.byObject.get(ng);
      if (known !== undefined) return known;
    }
    const key = plain ? signature(ng) : `${signature(ng)}#${role}`;
    let id = this.byKey.get(key);
    if (id === undefined) {
      id = this.classes.length;
      const W = this.words;
      if ((id + 1) * W > this.bitsS.length) {
        const grow = (a: Uint32Array) => {
          const b = new Uint32Array(a.length * 2);
          b.set(a);
          return b;
        };
        this.bitsS = grow(this.bitsS);
        this.bitsD = grow(this.bitsD);
      }
      const S = this.bitsS;
      const D = this.bitsD;
      const at = id * W;
      const mark = (bits: Uint32Array, lists: number[][], g: number) => {
        const word = at + (g >>> 5);
        const bit = 1 << (g & 31);
        if ((bits[word]! & bit) !== 0) return;
        bits[word]! |= bit;
        lists[g]!.push(id!);
      };
      for (const g of ng.src) mark(S, this.sourceClasses, g);
      for (const g of ng.srcByPrefix) mark(S, this.sourceClasses, g);
      for (const g of ng.dst) mark(D, this.destinationClasses, g);
      for (const g of dstAtGrants(ng)) mark(D, this.destinationClasses, g);
      this.classes.push({ id, key, role, named: ng.src, members: new Set() });
      this.byKey.set(key, id);
    }
    if (plain) this.byObject.set(ng, id);
    return id;
  }

  /**
   * sees: members of class a and members of class b are WireGuard peers (-1: cut off, sees no one):
   * access allows the pair and the topology gives it a direct tunnel, or one of them is a hub.
   */
  sees(a: number, b: number): boolean {
    if (a < 0 || b < 0) return false;
    if (this.topology.isFull) return this.reaches(a, b);
    const ra = this.classes[a]!.role;
    const rb = this.classes[b]!.role;
    if (Topology.transit(ra, rb)) return true;
    return this.topology.direct(ra, rb) && this.reaches(a, b);
  }

  /** reaches: access allows members of class a and of class b to talk (either way), whatever the topology. */
  reaches(a: number, b: number): boolean {
    if (a < 0 || b < 0) return false;
    const W = this.words;
    const S = this.bitsS;
    const D = this.bitsD;
    const x = a * W;
    const y = b * W;
    for (let w = 0; w < W; w++) if (((S[x + w]! & D[y + w]!) | (D[x + w]! & S[y + w]!)) !== 0) return true;
    return false;
  }

  /**
   * seesRow: for class k, a flag per class (1 = they see each other), cached until classes are
   * added. Built from the grants of k alone: the destinations of each grant k is a source of, and
   * the sources of each grant it is a destination of.
   */
  seesRow(k: number): Uint8Array {
    let row = this.rows.get(k);
    const count = this.classes.length;
    if (row && row.length === count) return row;
    row = new Uint8Array(count);
    if (k >= 0) {
      const at = k * this.words;
      for (let w = 0; w < this.words; w++) {
        let s = this.bitsS[at + w]!;
        let d = this.bitsD[at + w]!;
        while (s !== 0) {
          const low = s & -s;
          s ^= low;
          for (const c of this.destinationClasses[(w << 5) + 31 - Math.clz32(low)]!) row[c] = 1;
        }
        while (d !== 0) {
          const low = d & -d;
          d ^= low;
          for (const c of this.sourceClasses[(w << 5) + 31 - Math.clz32(low)]!) row[c] = 1;
        }
      }
      if (!this.topology.isFull) {
        const rk = this.classes[k]!.role;
        for (let c = 0; c < count; c++) {
          const rc = this.classes[c]!.role;
          row[c] = Topology.transit(rk, rc) || (row[c] === 1 && this.topology.direct(rk, rc)) ? 1 : 0;
        }
      }
    }
    this.rows.set(k, row);
    return row;
  }

  /**
   * mayRelay: the relay's packet filter accepts members of class k on its relay port (udp), i.e.
   * some grant has k as a source and the relay as a destination at its own addresses, for udp (or
   * any protocol) and a port range holding the port. Without a decision everyone may.
   */
  mayRelay(k: number, relay: IndexedNode, port: number): boolean {
    if (k < 0) return false;
    if (!this.decided) return true;
    const ng = relay.grants;
    if (!ng) return false;
    const at = k * this.words;
    const source = (g: number) => (this.bitsS[at + (g >>> 5)]! & (1 << (g & 31))) !== 0;
    const udpPort = (g: number) => {
      const v = this.views[g]!;
      return (v.proto === 'udp' || v.proto === 'any') && (v.dstPorts.length === 0 || v.dstPorts.some(([lo, hi]) => lo <= port && port <= hi));
    };
    for (const g of ng.dst) if (source(g) && udpPort(g)) return true;
    if (ng.dstAt) {
      for (const g of dstAtGrants(ng)) {
        if (source(g) && udpPort(g) && ng.dstAt[g]!.some((a) => relay.ownIps.includes(a) || relay.ownIps.some((ip) => a === `${ip}/${ip.includes(':') ? 128 : 32}`))) return true;
      }
    }
    return false;
  }

  /** isDestination: class k is a destination of grant g. */
  isDestination(k: number, g: number): boolean {
    return k >= 0 && (this.bitsD[k * this.words + (g >>> 5)]! & (1 << (g & 31))) !== 0;
  }

  /**
   * moveSources updates srcIps for a node whose named-source grants and addresses go from before to
   * after (null: not in the mesh) and returns the grants whose srcIps changed. Addresses are unique
   * among live nodes (the store allocates them), so a leaving node's addresses leave the list,
   * unless the grant names the same string as a prefix.
   */
  moveSources(before: { grants: readonly number[]; ips: readonly string[] } | null, after: { grants: readonly number[]; ips: readonly string[] } | null): number[] {
    if (!this.decided) return [];
    const changed = new Set<number>();
    const sameAddrs = before !== null && after !== null && sameIps(before.ips, after.ips);
    for (const g of before?.grants ?? EMPTY_INTS) {
      if (sameAddrs && after!.grants.includes(g)) continue;
      let list = this.srcIps[g]!;
      for (const ip of before!.ips) if (!this.views[g]!.prefixSet.has(ip)) list = removeSorted(list, ip);
      if (list !== this.srcIps[g]) {
        this.srcIps[g] = list;
        changed.add(g);
      }
    }
    for (const g of after?.grants ?? EMPTY_INTS) {
      if (sameAddrs && before!.grants.includes(g)) continue;
      let list = this.srcIps[g]!;
      for (const ip of after!.ips) list = insertSorted(list, ip);
      if (list !== this.srcIps[g]) {
        this.srcIps[g] = list;
        changed.add(g);
      }
    }
    return [...changed];
  }

  srcIpsOf(g: number): readonly string[] {
    return this.srcIps[g] ?? EMPTY;
  }

  /**
   * filterFor builds a node's packet filter from its grants: null without a decision, [] when the
   * node is cut off. Entries share their grant's srcIps and dstPorts arrays.
   */
  filterFor(n: IndexedNode): FilterRule[] | null {
    if (!this.decided) return null;
    const ng = n.grants;
    if (!ng) return EMPTY_FILTER;
    const out: FilterRule[] = [];
    for (const g of ng.dst) {
      const srcIps = this.srcIps[g]!;
      if (srcIps.length === 0) continue;
      const v = this.views[g]!;
      out.push({ srcIps: srcIps as string[], dstIps: n.ownIps as string[], proto: v.proto, dstPorts: v.dstPorts });
    }
    if (ng.dstAt) {
      for (const g of dstAtGrants(ng)) {
        const srcIps = this.srcIps[g]!;
        if (srcIps.length === 0) continue;
        const v = this.views[g]!;
        const at = ng.dstAt[g]!;
        out.push({ srcIps: srcIps as string[], dstIps: [...new Set(at)].sort(byString), proto: v.proto, dstPorts: v.dstPorts });
      }
    }
    if (out.length === 0) return EMPTY_FILTER;
    out.sort(compareFilters);
    let j = 1;
    for (let i = 1; i < out.length; i++) if (compareFilters(out[j - 1]!, out[i]!) !== 0) out[j++] = out[i]!;
    out.length = j;
    return Object.freeze(out) as FilterRule[];
  }
}

function sameIps(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((x, i) => x === b[i]));
}

function mergeSorted(a: readonly string[], b: readonly string[]): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const c = i >= a.length ? 1 : j >= b.length ? -1 : byString(a[i]!, b[j]!);
    const x = c <= 0 ? a[i++]! : b[j++]!;
    if (c === 0) j++;
    if (out[out.length - 1] !== x) out.push(x);
  }
  return out;
}

/** sameFilter compares two packet filters, by reference first (entries share their arrays). */
export function sameFilter(a: readonly FilterRule[] | null, b: readonly FilterRule[] | null): boolean {
  if (a === b) return true;
  if (a === null || b === null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (x.proto !== y.proto || !sameIps(x.srcIps, y.srcIps) || !sameIps(x.dstIps ?? EMPTY, y.dstIps ?? EMPTY)) return false;
    if (x.dstPorts !== y.dstPorts && (x.dstPorts.length !== y.dstPorts.length || x.dstPorts.some((p, k) => p[0] !== y.dstPorts[k]![0] || p[1] !== y.dstPorts[k]![1]))) return false;
    if ((x.dstIps === undefined) !== (y.dstIps === undefined)) return false;
  }
  return true;
}
