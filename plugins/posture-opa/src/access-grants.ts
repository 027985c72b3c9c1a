/**
 * The value of trellis/access/grants, read into core's AccessDecision: the grants list and, per
 * node, the positions of the grants it holds. Grouping the policy's (grant, node) pairs by node is
 * indexing; every membership was decided by the Rego.
 */
import type { AccessGrant, NodeGrants } from '@trellis/core/api';
import { policyErrors } from './errors';

/** The grants and each evaluated node's NodeGrants (frozen). */
export interface EvaluatedGrants {
  grants: readonly AccessGrant[];
  nodes: Map<string, NodeGrants>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringArray = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');
const PROTOS = new Set(['tcp', 'udp', 'icmp', 'any']);
const EMPTY: readonly number[] = Object.freeze([]);

function grantOf(x: unknown, i: number, source: string): AccessGrant {
  const bad = (what: string) => policyErrors.bundleInvalid(source, `trellis/access/grants: grant ${i} ${what}`);
  if (!isObject(x)) throw bad('is not an object');
  if (typeof x.label !== 'string') throw bad('has no label');
  if (typeof x.proto !== 'string' || !PROTOS.has(x.proto)) throw bad(`has proto ${JSON.stringify(x.proto)}`);
  if (!Array.isArray(x.ports) || !x.ports.every((p) => Array.isArray(p) && p.length === 2 && Number.isInteger(p[0]) && Number.isInteger(p[1]))) throw bad('has ports that are not [from, to] pairs');
  if (!isStringArray(x.src_prefixes)) throw bad('has src_prefixes that are not strings');
  return Object.freeze({
    label: x.label,
    proto: x.proto as AccessGrant['proto'],
    dstPorts: Object.freeze((x.ports as Array<[number, number]>).map(([a, b]) => Object.freeze([a, b] as const))),
    srcPrefixes: Object.freeze([...x.src_prefixes]),
  });
}

interface Building {
  src: number[];
  srcByPrefix: number[];
  dst: number[];
  dstAt: Map<number, Set<string>>;
}

/**
 * readGrants turns the grants value into the grants list and each node's NodeGrants. The grants
 * list of one policy version is the same for any nodes: pass the one read before as `known` to
 * share it. Throws POLICY_BUNDLE_INVALID when the value has another shape.
 */
export function readGrants(
  value: unknown,
  source: string,
  known?: readonly AccessGrant[],
  addressesOf: (id: string) => { ipv4: string; ipv6: string } | undefined = () => undefined,
): EvaluatedGrants {
  const bad = (what: string) => policyErrors.bundleInvalid(source, `trellis/access/grants ${what}`);
  if (!isObject(value) || !Array.isArray(value.grants) || !Array.isArray(value.src) || !Array.isArray(value.src_prefix) || !Array.isArray(value.dst)) {
    throw bad('is not {grants, src, src_prefix, dst}');
  }
  const grants = known && known.length === value.grants.length ? known : Object.freeze(value.grants.map((g, i) => grantOf(g, i, source)));
  const n = grants.length;
  const byNode = new Map<string, Building>();
  const at = (id: string) => {
    let b = byNode.get(id);
    if (!b) byNode.set(id, (b = { src: [], srcByPrefix: [], dst: [], dstAt: new Map() }));
    return b;
  };
  const pair = (x: unknown, what: string): [number, string] => {
    if (!Array.isArray(x) || !Number.isInteger(x[0]) || x[0] < 0 || x[0] >= n || typeof x[1] !== 'string') throw bad(`has a ${what} pair ${JSON.stringify(x)} that is not [grant, node id]`);
    return [x[0] as number, x[1] as string];
  };
  for (const x of value.src) {
    const [g, id] = pair(x, 'src');
    at(id).src.push(g);
  }
  for (const x of value.src_prefix) {
    const [g, id] = pair(x, 'src_prefix');
    at(id).srcByPrefix.push(g);
  }
  for (const x of value.dst) {
    const [g, id] = pair(x, 'dst');
    const b = at(id);
    if ((x as unknown[]).length === 2) {
      b.dst.push(g);
      continue;
    }
    const addrs = (x as unknown[])[2];
    if (!isStringArray(addrs)) throw bad(`has a dst pair ${JSON.stringify(x)} whose addresses are not strings`);
    let set = b.dstAt.get(g);
    if (!set) b.dstAt.set(g, (set = new Set()));
    for (const a of addrs) set.add(a);
  }
  const nodes = new Map<string, NodeGrants>();
  for (const [id, b] of byNode) nodes.set(id, freezeGrants(b, addressesOf(id)));
  return { grants, nodes };
}

const positions = (xs: number[]): readonly number[] => (xs.length === 0 ? EMPTY : Object.freeze([...new Set(xs)].sort((a, b) => a - b)));

function freezeGrants(b: Building, own: { ipv4: string; ipv6: string } | undefined): NodeGrants {
  let dst = positions(b.dst);
  const dstAt: Record<number, readonly string[]> = {};
  let any = false;
  for (const [g, addrs] of [...b.dstAt].sort((x, y) => x[0] - y[0])) {
    // A grant that reaches both the node's own addresses and others reaches all of them.
    if (dst.includes(g)) {
      if (!own) continue;
      addrs.add(own.ipv4).add(own.ipv6);
      dst = Object.freeze(dst.filter((x) => x !== g));
    }
    dstAt[g] = Object.freeze([...addrs].sort());
    any = true;
  }
  return Object.freeze({ src: positions(b.src), srcByPrefix: positions(b.srcByPrefix), dst, ...(any ? { dstAt: Object.freeze(dstAt) } : {}) });
}

/**
 * forMember gives a class member its representative's grants: the same object unless they name
 * addresses (dstAt), which are translated from the representative's to the member's (ipv4 to
 * ipv4, ipv6 to ipv6; a routed prefix stays as it is).
 */
export function forMember(rep: NodeGrants, repAddrs: { ipv4: string; ipv6: string }, addrs: { ipv4: string; ipv6: string }): NodeGrants {
  if (!rep.dstAt || (repAddrs.ipv4 === addrs.ipv4 && repAddrs.ipv6 === addrs.ipv6)) return rep;
  const dstAt: Record<number, readonly string[]> = {};
  for (const [g, list] of Object.entries(rep.dstAt)) {
    dstAt[Number(g)] = Object.freeze(list.map((a) => (a === repAddrs.ipv4 ? addrs.ipv4 : a === repAddrs.ipv6 ? addrs.ipv6 : a)).sort());
  }
  return Object.freeze({ src: rep.src, srcByPrefix: rep.srcByPrefix, dst: rep.dst, dstAt: Object.freeze(dstAt) });
}
