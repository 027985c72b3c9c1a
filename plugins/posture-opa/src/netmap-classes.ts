/**
 * Netmap classes: trellis/access/netmaps evaluated over one or two representatives per class of
 * nodes the access policy cannot tell apart, then expanded to every node in TypeScript.
 *
 * The shipped access policy (its class_contract rule) sees a node only through its user when a
 * user selector names it, the groups and tags a selector (or the quarantine tags) names, its
 * quarantine flag, its id or name when a node
 * selector names it, and which CIDR selectors hold each of its addresses; its addresses otherwise
 * only appear in the output (packet filter srcIps/dstIps). Nodes alike in all of these form a
 * class. Two representatives per class tell whether members of a class reach each other. The
 * Rego cost falls from O(nodes² × rules) to O(classes² × rules); the expansion is linear in the
 * output, and srcIps arrays are shared by every node that gets them.
 *
 * partitionNodes returns null whenever the input or the ACL document is outside what this
 * reasoning covers (duplicate addresses, odd CIDRs, unexpected shapes): the caller then evaluates
 * the policy over all nodes, as before.
 */
import type { FilterRule, PeerNode } from '@trellis/core/api';
import type { NetmapsView, NodeNetmap, RegoNetmap, SharedPeerLists } from './netmap-view';
import { parseIp, parsePrefix, prefixContains, type IpPrefix } from './ip-prefix';

/** A node as netmapsInput hands it to the policy. */
export interface NetmapNode {
  id: string;
  name: string;
  user: string | null;
  tags: string[];
  groups: string[];
  addresses: { ipv4: string; ipv6: string };
  quarantined: boolean;
}

export interface NodeClass {
  /** Members in input order; reps are the first (up to) two. */
  members: NetmapNode[];
  reps: NetmapNode[];
}

export interface NodePartition {
  classes: NodeClass[];
  /** node id -> index in classes. */
  classOf: Map<string, number>;
  byId: Map<string, NetmapNode>;
}

interface AclFacts {
  namedUsers: Set<string>;
  namedNodes: Set<string>;
  cidrs: IpPrefix[];
  /** normalized group name -> members */
  aclGroups: Array<[string, Set<string>]>;
  /** Groups and tags some selector (or the quarantine tags) can name; others cannot matter. */
  namedGroups: Set<string>;
  namedTags: Set<string>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const stripPrefix = (s: string, p: string) => (s.startsWith(p) ? s.slice(p.length) : s);
const CIDR_V4 = /^[0-9.]+(\/[0-9]{1,2})?$/;
const CIDR_V6 = /^[0-9a-fA-F:.]+(\/[0-9]{1,3})?$/;

/** isCidrSelector mirrors selector_kind(s) == "cidr" in access.rego. */
function isCidrSelector(s: string): boolean {
  if (s === '*' || s.startsWith('user:') || (s.includes('@') && !s.includes(':'))) return false;
  if (s.startsWith('group:') || s.startsWith('tag:') || s.startsWith('node:')) return false;
  return CIDR_V4.test(s) || (s.includes(':') && CIDR_V6.test(s));
}

const asCidr = (s: string) => (s.includes('/') ? s : s.includes(':') ? `${s}/128` : `${s}/32`);

/** readAcls gathers what the selectors can name; null when the document has a shape not covered here. */
function readAcls(acls: unknown): AclFacts | null {
  const doc = isObject(acls) ? acls : {};
  const rules = doc.rules ?? [];
  const groups = doc.groups ?? {};
  const quarantine = doc.quarantine ?? {};
  if (!Array.isArray(rules) || !isObject(groups) || !isObject(quarantine)) return null;
  const remediation = quarantine.remediation ?? [];
  const quarantineTags = quarantine.tags ?? ['tag:quarantine'];
  if (!Array.isArray(remediation) || !Array.isArray(quarantineTags) || !quarantineTags.every((t) => typeof t === 'string')) return null;
  const selectors = new Set<string>();
  const addAll = (xs: unknown) => {
    if (Array.isArray(xs)) for (const s of xs) if (typeof s === 'string') selectors.add(s);
  };
  for (const r of rules) {
    if (!isObject(r)) continue;
    addAll(r.src);
    addAll(r.dst);
  }
  addAll(remediation);
  const facts: AclFacts = {
    namedUsers: new Set(),
    namedNodes: new Set(),
    cidrs: [],
    aclGroups: [],
    namedGroups: new Set(),
    namedTags: new Set((quarantineTags as string[]).map((t) => `tag:${stripPrefix(t, 'tag:')}`)),
  };
  for (const s of [...selectors].sort()) {
    // Conservative: any selector that could name a user or node by this string makes it count.
    facts.namedUsers.add(s);
    facts.namedUsers.add(stripPrefix(s, 'user:'));
    if (s.startsWith('node:')) facts.namedNodes.add(s.slice(5));
    if (s.startsWith('group:')) facts.namedGroups.add(s.slice(6));
    if (s.startsWith('tag:')) facts.namedTags.add(s);
    if (isCidrSelector(s)) {
      const prefix = parsePrefix(asCidr(s));
      if (!prefix) return null;
      facts.cidrs.push(prefix);
    }
  }
  for (const [name, members] of Object.entries(groups)) {
    if (!Array.isArray(members) || !members.every((m) => typeof m === 'string')) return null;
    facts.aclGroups.push([stripPrefix(name, 'group:'), new Set(members as string[])]);
  }
  return facts;
}

function isNetmapNode(n: unknown): n is NetmapNode {
  if (!isObject(n)) return false;
  const a = n.addresses;
  return (
    typeof n.id === 'string' && n.id !== '' && typeof n.name === 'string' && (n.user === null || typeof n.user === 'string') &&
    Array.isArray(n.tags) && Array.isArray(n.groups) && typeof n.quarantined === 'boolean' && isObject(a) &&
    typeof a.ipv4 === 'string' && typeof a.ipv6 === 'string' && a.ipv4 !== '' && a.ipv6 !== '' && !a.ipv4.includes('/') && !a.ipv6.includes('/')
  );
}

const sortedSet = (xs: Iterable<string>) => (Array.isArray(xs) && xs.length < 2 ? xs : [...new Set(xs)].sort());

/**
 * partitionNodes groups nodes the policy treats alike; null when it cannot be sure (then evaluate
 * over all nodes).
 */
export function partitionNodes(nodes: readonly unknown[], acls: unknown): NodePartition | null {
  const facts = readAcls(acls);
  if (!facts) return null;
  const ids = new Set<string>();
  const ips = new Set<string>();
  const byKey = new Map<string, number>();
  const classes: NodeClass[] = [];
  const classOf = new Map<string, number>();
  const byId = new Map<string, NetmapNode>();
  for (const n of nodes) {
    if (!isNetmapNode(n) || ids.has(n.id)) return null;
    ids.add(n.id);
    const { ipv4, ipv6 } = n.addresses;
    if (ipv4 === ipv6 || ips.has(ipv4) || ips.has(ipv6)) return null;
    ips.add(ipv4);
    ips.add(ipv6);
    const user = n.user !== null && facts.namedUsers.has(n.user) ? n.user : null;
    // Only the groups and tags some selector can name count.
    const seenGroups: string[] = [];
    for (const g of n.groups) {
      if (typeof g !== 'string') continue;
      const name = stripPrefix(g, 'group:');
      if (facts.namedGroups.has(name)) seenGroups.push(name);
    }
    if (n.user !== null) for (const [name, members] of facts.aclGroups) if (members.has(n.user) && facts.namedGroups.has(name)) seenGroups.push(name);
    const seenTags: string[] = [];
    for (const t of n.tags) {
      if (typeof t !== 'string') continue;
      const tag = t.startsWith('tag:') ? t : `tag:${t}`;
      if (facts.namedTags.has(tag)) seenTags.push(tag);
    }
    const named = facts.namedNodes.has(n.id) || facts.namedNodes.has(n.name) ? n.id : null;
    let bits = '';
    if (facts.cidrs.length > 0) {
      const a4 = parseIp(ipv4);
      const a6 = parseIp(ipv6);
      if (!a4 || !a6) return null;
      const held: number[] = [];
      for (const c of facts.cidrs) {
        const in4 = prefixContains(c, a4);
        const in6 = prefixContains(c, a6);
        if (in4 === null || in6 === null) return null;
        held.push((in4 ? 1 : 0) + (in6 ? 2 : 0));
      }
      bits = held.join('');
    }
    const key = JSON.stringify([user, sortedSet(seenGroups), sortedSet(seenTags), n.quarantined, named, bits]);
    let idx = byKey.get(key);
    if (idx === undefined) {
      idx = classes.length;
      byKey.set(key, idx);
      classes.push({ members: [], reps: [] });
    }
    const cls = classes[idx]!;
    cls.members.push(n);
    if (cls.reps.length < 2) cls.reps.push(n);
    classOf.set(n.id, idx);
    byId.set(n.id, n);
  }
  return { classes, classOf, byId };
}

/** compareStrings and compareArrays follow OPA's ordering (bytes, then length) for ASCII values. */
const compareStrings = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function compareArrays<T>(a: readonly T[], b: readonly T[], cmp: (x: T, y: T) => number): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = cmp(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

const comparePorts = (a: readonly [number, number], b: readonly [number, number]) => a[0] - b[0] || a[1] - b[1];

/** compareFilters orders packet filter entries as Rego's sort does objects: by sorted keys (dstIps, dstPorts, proto, srcIps). */
export function compareFilters(a: FilterRule, b: FilterRule): number {
  return (
    compareArrays(a.dstIps ?? [], b.dstIps ?? [], compareStrings) ||
    compareArrays(a.dstPorts, b.dstPorts, comparePorts) ||
    compareStrings(a.proto, b.proto) ||
    compareArrays(a.srcIps, b.srcIps, compareStrings)
  );
}

type Pos = 0 | 1;
const ipAt = (n: NetmapNode, pos: Pos) => (pos === 0 ? n.addresses.ipv4 : n.addresses.ipv6);

/** A packet filter entry of a class, with addresses still to be made concrete for each member. */
interface FilterTemplate {
  srcIps: string[];
  /** Per position: whether the member's own address must be left out (the policy left the representative out). */
  excludeSelf: [boolean, boolean];
  /** dstIps: positions of the member's own addresses, or literal prefixes. */
  dst: Array<Pos | string> | null;
  proto: FilterRule['proto'];
  dstPorts: Array<[number, number]>;
}

interface ClassVerdict {
  quarantined: boolean;
  /** allowed[k]: members of this class see members of class k. */
  allowed: Uint8Array;
  filters: FilterTemplate[];
}

/** ClassContractBroken: the representatives' netmaps did not have the shape the expansion relies on. */
class ClassContractBroken extends Error {}

/**
 * expandClasses turns the representatives' netmaps (the policy's result over reps only) into a view
 * for every node of the partition; null if that result breaks the class contract.
 */
export function expandClasses(partition: NodePartition, repResult: Record<string, RegoNetmap>): NetmapsView | null {
  try {
    return new ClassNetmaps(partition, repResult);
  } catch (err) {
    if (err instanceof ClassContractBroken) return null;
    throw err;
  }
}

/** repInput is the netmaps input over the representatives only. */
export function repInput(partition: NodePartition): { nodes: NetmapNode[] } {
  return { nodes: partition.classes.flatMap((c) => c.reps) };
}

/** A filter's srcIps as the class expansion reads them. */
interface FilterSources {
  /** class -> the addresses of its representatives in srcIps, with their position. */
  byClass: Map<number, Array<[Pos, string]>>;
  /** srcIps with every representative's address replaced by its whole class's (sorted, shared). */
  expanded: string[];
}

/** Entries of one MapBuilder build, in id order, with the class of each and the lists built so far. */
interface SharedLists {
  from: ReadonlyMap<string, PeerNode>;
  entries: PeerNode[];
  classes: Int32Array;
  /** Scratch space for the positions of one class's list. */
  positions: Int32Array;
  lists: Array<readonly PeerNode[] | undefined>;
}

const NO_CLASS = 0x7fffffff;

class ClassNetmaps implements NetmapsView {
  private readonly verdicts: ClassVerdict[];
  /** address of a representative -> [class, position] */
  private readonly repIps = new Map<string, [number, Pos]>();
  private readonly expanded = new Map<string, string[]>();
  private readonly sources = new WeakMap<readonly string[], FilterSources>();
  private addresses: { ips: string[]; slots: Int32Array } | null = null;
  /** Per class, the entries its members may see (self included), for the entries map it was built from. */
  private shared: SharedLists | null = null;

  constructor(private readonly p: NodePartition, result: Record<string, RegoNetmap>) {
    p.classes.forEach((c, k) => c.reps.forEach((r) => ([0, 1] as const).forEach((pos) => this.repIps.set(ipAt(r, pos), [k, pos]))));
    this.verdicts = p.classes.map((c, k) => this.verdictOf(c, k, result));
  }

  private verdictOf(c: NodeClass, k: number, result: Record<string, RegoNetmap>): ClassVerdict {
    const rep = c.reps[0]!;
    const r = Object.prototype.hasOwnProperty.call(result, rep.id) ? result[rep.id] : undefined;
    if (!r || !Array.isArray(r.packetFilter)) throw new ClassContractBroken();
    let allowed = classesSeen.get(r);
    if (!allowed || allowed.length !== this.p.classes.length) {
      if (!Array.isArray(r.peers)) throw new ClassContractBroken();
      allowed = new Uint8Array(this.p.classes.length);
      for (const id of r.peers) {
        const other = this.p.classOf.get(id);
        if (other === undefined) throw new ClassContractBroken();
        allowed[other] = 1;
      }
    }
    return { quarantined: r.quarantined === true, allowed, filters: r.packetFilter.map((f) => this.templateOf(f, k, rep)) };
  }

  private templateOf(f: FilterRule, k: number, rep: NetmapNode): FilterTemplate {
    const self: [boolean, boolean] = [false, false];
    const sibling: [boolean, boolean] = [false, false];
    const src = this.sourcesOf(f.srcIps);
    for (const [pos, ip] of src.byClass.get(k) ?? []) (ip === ipAt(rep, pos) ? self : sibling)[pos] = true;
    const srcIps = src.expanded;
    const dst = f.dstIps
      ? f.dstIps.map((ip): Pos | string => {
          if (ip === rep.addresses.ipv4) return 0;
          if (ip === rep.addresses.ipv6) return 1;
          if (this.repIps.has(ip)) throw new ClassContractBroken();
          return ip;
        })
      : null;
    return {
      srcIps,
      excludeSelf: [sibling[0] && !self[0], sibling[1] && !self[1]],
      dst,
      proto: f.proto,
      dstPorts: f.dstPorts.map(([a, b]) => [a, b] as [number, number]),
    };
  }

  /**
   * sourcesOf reads a filter's srcIps once per array: netmapsFromIndex gives every class the same
   * array for a rule, so a rule's sources are expanded once, not once per class it reaches.
   */
  private sourcesOf(ips: readonly string[]): FilterSources {
    let src = this.sources.get(ips);
    if (src) return src;
    const byClass = new Map<number, Array<[Pos, string]>>();
    // slot = class * 2 + position of the address in the class's members.
    const slots = new Uint8Array(this.p.classes.length * 2);
    const literals: string[] = [];
    for (const ip of ips) {
      const owner = this.repIps.get(ip);
      if (!owner) {
        literals.push(ip);
        continue;
      }
      const [cls, pos] = owner;
      let own = byClass.get(cls);
      if (!own) byClass.set(cls, (own = []));
      own.push([pos, ip]);
      slots[cls * 2 + pos] = 1;
    }
    const used: number[] = [];
    for (let i = 0; i < slots.length; i++) if (slots[i] === 1) used.push(i);
    const key = `${used.join(',')}|${JSON.stringify(sortedSet(literals))}`;
    let expanded = this.expanded.get(key);
    if (!expanded) {
      expanded = this.expand(slots, literals);
      this.expanded.set(key, expanded);
    }
    src = { byClass, expanded };
    this.sources.set(ips, src);
    return src;
  }

  /**
   * expand gives, sorted and without repeats, every address at position pos of every member of
   * class cls for each slot cls * 2 + pos set in slots, and the literals: one pass over all member
   * addresses sorted once, rather than a sort per expansion.
   */
  private expand(slots: Uint8Array, literals: readonly string[]): string[] {
    const all = this.allAddresses();
    const picked: string[] = [];
    for (let i = 0; i < all.ips.length; i++) if (slots[all.slots[i]!] === 1) picked.push(all.ips[i]!);
    if (literals.length === 0) return picked;
    const lits = [...new Set(literals)].sort(compareStrings);
    const out: string[] = [];
    let a = 0;
    let b = 0;
    while (a < picked.length || b < lits.length) {
      const c = a >= picked.length ? 1 : b >= lits.length ? -1 : compareStrings(picked[a]!, lits[b]!);
      if (c <= 0) out.push(picked[a++]!);
      if (c >= 0) out.push(lits[b++]!);
      if (c === 0) out.pop();
    }
    return out;
  }

  /** Every member's two addresses, sorted, each with its slot (class * 2 + position). */
  private allAddresses(): { ips: string[]; slots: Int32Array } {
    if (this.addresses) return this.addresses;
    const rows: Array<[string, number]> = [];
    this.p.classes.forEach((c, k) => c.members.forEach((m) => rows.push([m.addresses.ipv4, k * 2], [m.addresses.ipv6, k * 2 + 1])));
    rows.sort((x, y) => compareStrings(x[0], y[0]));
    this.addresses = { ips: rows.map((r) => r[0]), slots: Int32Array.from(rows, (r) => r[1]) };
    return this.addresses;
  }

  get(nodeId: string): NodeNetmap | undefined {
    const k = this.p.classOf.get(nodeId);
    if (k === undefined) return undefined;
    const v = this.verdicts[k]!;
    const m = this.p.byId.get(nodeId)!;
    const { allowed } = v;
    const classOf = this.p.classOf;
    return {
      quarantined: v.quarantined,
      filterPeers: (peers: readonly PeerNode[]) => {
        const out: PeerNode[] = [];
        for (const peer of peers) {
          const c = classOf.get(peer.id);
          if (c !== undefined && allowed[c] === 1 && peer.id !== nodeId) out.push(peer);
        }
        return out;
      },
      peersAmong: (entries, helpers) => this.peersAmong(k, nodeId, entries, helpers),
      packetFilter: this.filtersOf(v, m),
    };
  }

  private peersAmong(k: number, nodeId: string, entries: ReadonlyMap<string, PeerNode>, helpers: SharedPeerLists = {}): PeerNode[] {
    const shared = this.sharedFor(entries);
    let list = shared.lists[k];
    if (!list) {
      const { allowed } = this.verdicts[k]!;
      const { entries: all, classes, positions } = shared;
      let n = 0;
      for (let i = 0; i < all.length; i++) if (allowed[classes[i]!] === 1) positions[n++] = i;
      if (helpers.peersAt) {
        list = helpers.peersAt(positions.subarray(0, n));
      } else {
        const out: PeerNode[] = new Array<PeerNode>(n);
        for (let j = 0; j < n; j++) out[j] = all[positions[j]!]!;
        list = Object.freeze(out);
      }
      shared.lists[k] = list;
    }
    // The node is in the list only when its class sees itself; then it gets its own copy without itself.
    if (this.verdicts[k]!.allowed[k] !== 1) return list as PeerNode[];
    return helpers.peersWithout ? helpers.peersWithout(list, nodeId) : list.filter((p) => p.id !== nodeId);
  }

  /**
   * sharedFor gives the entries in id order with each one's class (NO_CLASS for a node outside
   * the partition), computed once per entries map, so a class's list is one pass over a typed
   * array rather than a map lookup per entry.
   */
  private sharedFor(entries: ReadonlyMap<string, PeerNode>): SharedLists {
    if (this.shared?.from === entries) return this.shared;
    const all = [...entries.values()];
    const classes = new Int32Array(all.length);
    const classOf = this.p.classOf;
    // verdicts' allowed arrays have one slot per class; NO_CLASS points past them (undefined !== 1).
    all.forEach((e, i) => (classes[i] = classOf.get(e.id) ?? NO_CLASS));
    this.shared = { from: entries, entries: all, classes, positions: new Int32Array(all.length), lists: [] };
    return this.shared;
  }

  private filtersOf(v: ClassVerdict, m: NetmapNode): FilterRule[] {
    const out: FilterRule[] = [];
    for (const t of v.filters) {
      let srcIps = t.srcIps;
      if (t.excludeSelf[0] || t.excludeSelf[1]) {
        const skip0 = t.excludeSelf[0] ? m.addresses.ipv4 : null;
        const skip1 = t.excludeSelf[1] ? m.addresses.ipv6 : null;
        srcIps = srcIps.filter((ip) => ip !== skip0 && ip !== skip1);
        if (srcIps.length === 0) continue;
      }
      const dstIps = t.dst ? { dstIps: t.dst.map((d) => (typeof d === 'string' ? d : ipAt(m, d))).sort() } : {};
      out.push({ srcIps, ...dstIps, proto: t.proto, dstPorts: t.dstPorts });
    }
    out.sort(compareFilters);
    return out.filter((f, i) => i === 0 || compareFilters(out[i - 1]!, f) !== 0);
  }
}

/**
 * materialize writes a view out as the netmaps value it stands for (sorted peer ids per node), for
 * comparing with a direct evaluation.
 */
export function materialize(view: NetmapsView, nodeIds: readonly string[]): Record<string, RegoNetmap> {
  const out: Record<string, RegoNetmap> = {};
  // filterPeers only reads ids; sorted ids give peers sorted as the policy sorts them.
  const all = [...nodeIds].sort().map((id) => ({ id }) as PeerNode);
  for (const id of nodeIds) {
    const v = view.get(id);
    if (!v) continue;
    const peers = v.filterPeers(all).map((p) => p.id);
    out[id] = { node: id, quarantined: v.quarantined, peers, packetFilter: v.packetFilter };
  }
  return out;
}

/** The value of trellis/access/netmap_index (sets arrive as sorted arrays). */
export interface RegoNetmapIndex {
  rules: Array<{ src: string[]; dst: Record<string, string[]>; filter_src: string[]; proto: FilterRule['proto']; ports: Array<[number, number]> }>;
  quarantined: string[];
  remediation_src: string[];
  remediation_dst: string[];
}

const isStringArray = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');

/**
 * netmapsFromIndex computes, in TypeScript, what netmap_of in access.rego gives each class's first
 * representative, from the policy's per-rule index over the representatives (rules x nodes of
 * Rego work instead of nodes² x rules). Peers: a reaches b when a rule's src has a and its dst has
 * b (either way round), plus the quarantine paths; filters: one entry per rule whose dst has the
 * node, plus the quarantine entry. null when the index does not have the expected shape.
 */
export function netmapsFromIndex(partition: NodePartition, index: unknown): Record<string, RegoNetmap> | null {
  if (!isObject(index) || !Array.isArray(index.rules)) return null;
  const { quarantined, remediation_src: remSrc, remediation_dst: remDst } = index;
  if (!isStringArray(quarantined) || !isStringArray(remSrc) || !isStringArray(remDst)) return null;
  const reps = partition.classes.flatMap((c) => c.reps);
  const pos = new Map<string, number>();
  reps.forEach((r, i) => pos.set(r.id, i));
  const words = (reps.length + 31) >>> 5;
  const bitsOf = (ids: Iterable<string>): Uint32Array | null => {
    const bits = new Uint32Array(words);
    for (const id of ids) {
      const i = pos.get(id);
      if (i === undefined) return null;
      bits[i >>> 5]! |= 1 << (i & 31);
    }
    return bits;
  };
  const has = (bits: Uint32Array, i: number) => (bits[i >>> 5]! & (1 << (i & 31))) !== 0;
  const rules: Array<{ src: Uint32Array; dst: Uint32Array; dstAddrs: Record<string, string[]>; filterSrc: string[]; proto: FilterRule['proto']; ports: Array<[number, number]> }> = [];
  for (const r of index.rules as unknown[]) {
    if (!isObject(r) || !isStringArray(r.src) || !isObject(r.dst) || !isStringArray(r.filter_src) || typeof r.proto !== 'string' || !Array.isArray(r.ports)) return null;
    const src = bitsOf(r.src);
    const dst = bitsOf(Object.keys(r.dst));
    if (!src || !dst) return null;
    rules.push({ src, dst, dstAddrs: r.dst as Record<string, string[]>, filterSrc: r.filter_src, proto: r.proto as FilterRule['proto'], ports: r.ports as Array<[number, number]> });
  }
  const q = bitsOf(quarantined);
  const rs = bitsOf(remSrc);
  const rd = bitsOf(remDst);
  if (!q || !rs || !rd) return null;
  const or = (acc: Uint32Array, bits: Uint32Array) => {
    for (let w = 0; w < words; w++) acc[w]! |= bits[w]!;
  };
  const ipsOf = (n: NetmapNode) => [n.addresses.ipv4, n.addresses.ipv6].sort();
  const byIdOrder = reps.map((_, j) => j).sort((a, b) => compareStrings(reps[a]!.id, reps[b]!.id));
  const repClass = Int32Array.from(reps, (r) => partition.classOf.get(r.id)!);
  const out: Record<string, RegoNetmap> = {};
  for (const c of partition.classes) {
    const me = c.reps[0]!;
    const i = pos.get(me.id)!;
    const acc = new Uint32Array(words);
    const packetFilter: FilterRule[] = [];
    for (const r of rules) {
      if (has(r.src, i)) or(acc, r.dst);
      if (has(r.dst, i)) {
        or(acc, r.src);
        const addrs = r.dstAddrs[me.id];
        if (!isStringArray(addrs)) return null;
        if (r.filterSrc.length > 0) packetFilter.push({ srcIps: r.filterSrc, dstIps: [...addrs].sort(), proto: r.proto, dstPorts: r.ports });
      }
    }
    const meQ = has(q, i);
    if (meQ) {
      or(acc, rd);
      or(acc, rs);
    }
    if (has(rs, i) || has(rd, i)) or(acc, q);
    // quarantine_sources: quarantined nodes when me is a remediation destination, remediation sources when me is quarantined.
    const qsrc = new Uint32Array(words);
    if (has(rd, i)) or(qsrc, q);
    if (meQ) or(qsrc, rs);
    const qips: string[] = [];
    const seen = new Uint8Array(partition.classes.length);
    // Only set bits: a class's peers are usually a small part of the representatives.
    for (let w = 0; w < words; w++) {
      let bits = acc[w]! | qsrc[w]!;
      while (bits !== 0) {
        const low = bits & -bits;
        const j = (w << 5) + (31 - Math.clz32(low));
        bits ^= low;
        if (j === i) continue;
        if (has(acc, j)) seen[repClass[j]!] = 1;
        if (has(qsrc, j)) qips.push(...ipsOf(reps[j]!));
      }
    }
    if (qips.length > 0) packetFilter.push({ srcIps: [...new Set(qips)].sort(), dstIps: ipsOf(me), proto: 'any', dstPorts: [] });
    const peerBits = acc;
    const netmap = { node: me.id, quarantined: meQ, packetFilter } as RegoNetmap;
    // peers (ids in id order) is built only when read; expandClasses reads the classes seen instead.
    Object.defineProperty(netmap, 'peers', {
      enumerable: true,
      configurable: true,
      get: () => {
        const peers = byIdOrder.filter((j) => j !== i && has(peerBits, j)).map((j) => reps[j]!.id);
        Object.defineProperty(netmap, 'peers', { value: peers, enumerable: true, configurable: true, writable: true });
        return peers;
      },
    });
    classesSeen.set(netmap, seen);
    out[me.id] = netmap;
  }
  return out;
}

/** The classes each netmap from netmapsFromIndex sees, so expandClasses need not map peer ids back. */
const classesSeen = new WeakMap<RegoNetmap, Uint8Array>();

/**
 * indexFromPairs groups the value of trellis/access/netmap_pairs by rule into the shape of
 * netmap_index; null when it does not have the expected shape.
 */
export function indexFromPairs(pairs: unknown): RegoNetmapIndex | null {
  if (!isObject(pairs) || !Array.isArray(pairs.rules) || !isObject(pairs.ips)) return null;
  const { src_named: named, src_cidr: cidr, dst, quarantined, remediation_src: remSrc, remediation_dst: remDst } = pairs;
  if (!Array.isArray(named) || !Array.isArray(cidr) || !Array.isArray(dst)) return null;
  if (!isStringArray(quarantined) || !isStringArray(remSrc) || !isStringArray(remDst)) return null;
  const ips = pairs.ips as Record<string, unknown>;
  const n = pairs.rules.length;
  const src = Array.from({ length: n }, () => new Set<string>());
  const filterSrc = Array.from({ length: n }, () => new Set<string>());
  const dsts = Array.from({ length: n }, () => ({}) as Record<string, string[]>);
  const pairOk = (x: unknown): x is [number, string, ...unknown[]] => Array.isArray(x) && Number.isInteger(x[0]) && x[0] >= 0 && x[0] < n && typeof x[1] === 'string';
  for (const x of named) {
    if (!pairOk(x)) return null;
    const own = ips[x[1]];
    if (!isStringArray(own)) return null;
    src[x[0]]!.add(x[1]);
    for (const ip of own) filterSrc[x[0]]!.add(ip);
  }
  for (const x of cidr) {
    if (!pairOk(x)) return null;
    src[x[0]]!.add(x[1]);
  }
  for (const x of dst) {
    // [rule, node]: the rule reaches the node's own addresses; [rule, node, addrs]: those addresses.
    if (!pairOk(x)) return null;
    const addrs = x.length === 2 ? ips[x[1]] : x[2];
    if (!isStringArray(addrs)) return null;
    dsts[x[0]]![x[1]] = addrs;
  }
  const rules: RegoNetmapIndex['rules'] = [];
  for (let j = 0; j < n; j++) {
    const r: unknown = pairs.rules[j];
    if (!isObject(r) || !isStringArray(r.filter_cidrs) || typeof r.proto !== 'string' || !Array.isArray(r.ports)) return null;
    for (const c of r.filter_cidrs) filterSrc[j]!.add(c);
    rules.push({ src: [...src[j]!], dst: dsts[j]!, filter_src: [...filterSrc[j]!].sort(), proto: r.proto as FilterRule['proto'], ports: r.ports as Array<[number, number]> });
  }
  return { rules, quarantined, remediation_src: remSrc, remediation_dst: remDst };
}
