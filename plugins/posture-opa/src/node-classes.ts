/**
 * Node classes: nodes the access policy cannot tell apart, found from what the policy says it
 * reads of a node (trellis/access/node_reads, contract node-classes/v2). The controller evaluates
 * trellis/access/grants over one representative per class and gives every member its
 * representative's grants. This file only projects each node onto the attributes the policy
 * lists; it knows nothing of selectors, quarantine or remediation.
 *
 * partitionNodes returns null whenever it cannot be sure (an address or prefix it cannot read
 * exactly as Rego's net.cidr_contains does, repeated addresses, an unexpected shape): the caller
 * then evaluates the policy over every node. Addresses and prefixes are read with core's IP module.
 */
import { parseIp, parsePrefix, prefixContains, type IpAddress, type IpPrefix } from '@trellis/core/api';

/** The contract node_reads must declare for partitionNodes to apply. */
export const NODE_READS_CONTRACT = 'node-classes/v2';

/** A node as the access policy's input has it (netmapsInput). */
export interface PolicyNode {
  id: string;
  name: string;
  user: string | null;
  tags: readonly string[];
  groups: readonly string[];
  addresses: { ipv4: string; ipv6: string };
  quarantined: boolean;
  /** Approved routes the node serves as a gateway; absent when none. */
  subnets?: readonly string[];
}

/** NodeReads: the value of trellis/access/node_reads, read. */
export interface NodeReads {
  users: ReadonlySet<string>;
  groups: ReadonlySet<string>;
  tags: ReadonlySet<string>;
  nodes: ReadonlySet<string>;
  prefixes: readonly IpPrefix[];
}

export interface NodeClass {
  /** Members in input order; the first is the representative. */
  members: PolicyNode[];
}

export interface NodePartition {
  classes: NodeClass[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringArray = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');

/** readNodeReads checks the node_reads value; null when it is not the contract this file implements. */
export function readNodeReads(value: unknown): NodeReads | null {
  if (!isObject(value) || value.contract !== NODE_READS_CONTRACT) return null;
  const { users, groups, tags, nodes, prefixes } = value;
  if (!isStringArray(users) || !isStringArray(groups) || !isStringArray(tags) || !isStringArray(nodes) || !isStringArray(prefixes)) return null;
  const parsed: IpPrefix[] = [];
  for (const p of prefixes) {
    const prefix = parsePrefix(p);
    if (!prefix) return null;
    parsed.push(prefix);
  }
  return { users: new Set(users), groups: new Set(groups), tags: new Set(tags), nodes: new Set(nodes), prefixes: parsed };
}

const sortedUnique = (xs: string[]) => (xs.length < 2 ? xs : [...new Set(xs)].sort());

/**
 * isIpv4Mapped: ::ffff:a.b.c.d. Go's net package (hence opa's net.cidr_contains) reads such an
 * address, or prefix, as IPv4, core's IP module as IPv6: containment involving one is left to opa.
 */
function isIpv4Mapped(x: IpAddress | IpPrefix): boolean {
  if (x.family !== 6) return false;
  for (let i = 0; i < 10; i++) if (x.bytes[i] !== 0) return false;
  return x.bytes[10] === 0xff && x.bytes[11] === 0xff;
}

/** Which listed prefixes hold an address ('1'/'0' per prefix, '' when it cannot be read exactly), per NodeReads. */
const heldCache = new WeakMap<NodeReads, Map<string, string>>();

function heldBy(reads: NodeReads, ip: string): string {
  let cache = heldCache.get(reads);
  if (!cache) heldCache.set(reads, (cache = new Map()));
  let held = cache.get(ip);
  if (held !== undefined) return held;
  const a = parseIp(ip);
  held = '';
  if (a && !isIpv4Mapped(a) && !reads.prefixes.some(isIpv4Mapped)) {
    for (const p of reads.prefixes) held += prefixContains(p, a) ? '1' : '0';
  }
  cache.set(ip, held);
  return held;
}

/** Each node's class key under a NodeReads, kept while the node object is the same. */
const keys = new WeakMap<NodeReads, WeakMap<PolicyNode, string | null>>();

/** classKey: what the policy reads of the node, as one string; null when an address cannot be read exactly. */
function classKey(reads: NodeReads, n: PolicyNode): string | null {
  let cache = keys.get(reads);
  if (!cache) keys.set(reads, (cache = new WeakMap()));
  const known = cache.get(n);
  if (known !== undefined) return known;
  let key: string | null = null;
  let held = '';
  if (reads.prefixes.length > 0) {
    const h4 = heldBy(reads, n.addresses.ipv4);
    const h6 = heldBy(reads, n.addresses.ipv6);
    held = h4 === '' || h6 === '' ? '!' : `${h4}/${h6}`;
  }
  if (held !== '!') {
    key = JSON.stringify([
      n.user !== null && reads.users.has(n.user) ? n.user : null,
      sortedUnique(n.groups.filter((g) => reads.groups.has(g))),
      sortedUnique(n.tags.filter((t) => reads.tags.has(t))),
      n.quarantined,
      reads.nodes.has(n.id) || reads.nodes.has(n.name) ? n.id : null,
      held,
      // A gateway is a destination at its subnets: only gateways of the same routes are alike.
      n.subnets ?? [],
    ]);
  }
  cache.set(n, key);
  return key;
}

/**
 * partitionNodes groups nodes alike in everything the policy reads; null when it cannot be sure
 * (then evaluate over every node).
 */
export function partitionNodes(nodes: readonly PolicyNode[], reads: NodeReads): NodePartition | null {
  const ids = new Set<string>();
  const ips = new Set<string>();
  const byKey = new Map<string, NodeClass>();
  const classes: NodeClass[] = [];
  for (const n of nodes) {
    if (ids.has(n.id)) return null;
    ids.add(n.id);
    const { ipv4, ipv6 } = n.addresses;
    if (ipv4 === ipv6 || ips.has(ipv4) || ips.has(ipv6)) return null;
    ips.add(ipv4);
    ips.add(ipv6);
    const key = classKey(reads, n);
    if (key === null) return null;
    let cls = byKey.get(key);
    if (!cls) {
      cls = { members: [] };
      byKey.set(key, cls);
      classes.push(cls);
    }
    cls.members.push(n);
  }
  return { classes };
}
