import { isDeepStrictEqual } from 'node:util';
import type { AccessDecision } from '../api/access';
import type { NodeInfo } from '../api/node-info';
import type { HookRunner } from '../plugins/hook-runner';
import type { Logger } from '../log/logger';
import type { EndpointCandidate, FilterRule, NetworkMapData, OnDemandPeer, PeerNode, RelayPairs, Route, SelfNode } from '../netmap/types';
import type { NodeRecord } from '../store/store';
import { errors } from '../errors';
import { AccessIndex, sameFilter, type IndexedNode } from './access-index';
import type { PresenceState } from './presence';
import { candidatesOf, sameCandidates } from './candidate-report';
import { freezePairs, relayedByOf, relayPairsOf, sameRelayPairs, type RelayNode } from './relay-plan';
import { onDemandList, relayHubsOf, withoutSelf, type RelayHub } from './on-demand-plan';
import { sortedPosition } from './sorted-position';
import { FULL_MESH_TOPOLOGY, parseTopology, Topology } from './topology';

/**
 * The build step of the controller's map pipeline: store snapshot → decide (decideAccess) → build
 * (this file: one shared, frozen peer entry per node, one peer list per class of alike nodes) →
 * extend (mapExtension, each plugin its own key) → diff (mesh-diff.ts, map-changes.ts) → stream
 * (map-streamer.ts). Nothing later replaces what an earlier step built.
 */

export interface MapBuildInput {
  /** Every stored node; the builder keeps only live ones (not revoked, not expired). */
  nodes: readonly NodeRecord[];
  presence: (node: NodeRecord) => PresenceState;
  overlay: { ipv4Cidr: string; ipv6Prefix: string };
  epoch: string;
  now: number;
  /** user name -> groups (NodeInfo.groups). */
  userGroups?: Readonly<Record<string, readonly string[]>>;
  /** The approved routes each node serves as a gateway (NodeInfo.subnets); default none. */
  subnets?: (nodeId: string) => readonly string[];
}

/** MeshNode: what the controller holds of one live node between builds. Its map is materialised on demand. */
export interface MeshNode extends IndexedNode {
  readonly id: string;
  record: NodeRecord;
  info: NodeInfo;
  /** The node as its peers see it: frozen, shared by every map that lists it. */
  entry: PeerNode;
  self: SelfNode;
  /** Its class in the mesh's AccessIndex; -1 when cut off (unapproved, or absent from the decision). */
  cls: number;
  /** Its topology role (topology.ts). */
  role: string;
  packetFilter: FilterRule[] | null;
  /** The routes it uses (route-plan.ts); frozen, shared by alike nodes. */
  routes: Route[];
  /** One key per plugin that gave an extension; frozen. */
  extensions: Readonly<Record<string, unknown>>;
}

/** isApproved: a node enrolled while approval was required waits, with no peers, until an admin approves it. */
export function isApproved(node: NodeRecord): boolean {
  return node.approved !== false;
}

/** isLiveNode: a node takes part in the mesh unless it is revoked or its key has expired. */
export function isLiveNode(node: NodeRecord, now: number): boolean {
  return !node.revoked && (node.expiresAt === null || node.expiresAt > now);
}

const NO_SUBNETS: readonly string[] = Object.freeze([]);
/** EMPTY_ROUTES: the routes of a node that uses none (shared, so diffs compare by reference). */
export const EMPTY_ROUTES: Route[] = Object.freeze([]) as unknown as Route[];

/** nodeInfoOf is what decider and extension plugins learn about a live node (frozen). */
export function nodeInfoOf(node: NodeRecord, userGroups: Readonly<Record<string, readonly string[]>> = {}, subnets: readonly string[] = NO_SUBNETS): NodeInfo {
  return Object.freeze({
    id: node.id,
    name: node.name,
    user: node.user,
    groups: Object.freeze(node.user ? [...(userGroups[node.user] ?? [])] : []),
    tags: Object.freeze([...node.tags]),
    addresses: Object.freeze({ ipv4: node.ipv4, ipv6: node.ipv6 }),
    posture: node.posture,
    approved: isApproved(node),
    subnets: subnets.length === 0 ? NO_SUBNETS : Object.freeze([...subnets]),
  });
}

export const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const idOf = (x: { id: string }) => x.id;

const NO_RELAYS: readonly string[] = Object.freeze([]);

/** peerEntry is a node as its peers see it, frozen: entries are shared by every map. relayedBy: relay-plan.ts. */
export function peerEntry(node: NodeRecord, presence: PresenceState, hub = false, relayedBy: readonly string[] = NO_RELAYS): PeerNode {
  const entry: PeerNode = {
    id: node.id,
    name: node.name,
    wgKey: node.wgKey,
    addresses: Object.freeze({ ipv4: node.ipv4, ipv6: node.ipv6 }),
    endpoints: Object.freeze([...node.endpoints]) as string[],
    candidates: Object.freeze(candidatesOf(node).map((c) => Object.freeze({ ...c }))) as EndpointCandidate[],
    allowedIps: Object.freeze([`${node.ipv4}/32`, `${node.ipv6}/128`]) as string[],
    tags: Object.freeze([...node.tags]) as string[],
    user: node.user,
    online: presence.online,
    lastSeen: presence.lastSeen,
    relay: node.relay ? Object.freeze({ port: node.relay.port }) : null,
  };
  if (hub) entry.hub = true;
  if (relayedBy.length > 0) entry.relayedBy = Object.freeze([...relayedBy]) as string[];
  return Object.freeze(entry);
}

/** ownIpsOf: a node's addresses sorted, as filters name them (dstIps) and sources add them (srcIps). */
export function ownIpsOf(node: NodeRecord): readonly string[] {
  return Object.freeze(node.ipv4 < node.ipv6 ? [node.ipv4, node.ipv6] : [node.ipv6, node.ipv4]);
}

const EMPTY_EXTENSIONS: Readonly<Record<string, unknown>> = Object.freeze({});

/** keep returns prev when it equals next (so later diffs compare by reference), else next. */
export function keep<T>(prev: T | undefined, next: T, same: (a: T, b: T) => boolean = isDeepStrictEqual): T {
  return prev !== undefined && (prev === next || same(prev, next)) ? prev : next;
}

const sameStrings = (a: readonly string[], b: readonly string[]) => a === b || (a.length === b.length && a.every((x, i) => x === b[i]));

/** samePeer compares two peer entries field by field (a deep compare of 10,000 entries costs more). */
export function samePeer(a: PeerNode, b: PeerNode): boolean {
  return (
    a.id === b.id && a.name === b.name && a.wgKey === b.wgKey && a.user === b.user && a.online === b.online && a.lastSeen === b.lastSeen &&
    a.addresses.ipv4 === b.addresses.ipv4 && a.addresses.ipv6 === b.addresses.ipv6 &&
    sameStrings(a.endpoints, b.endpoints) && sameCandidates(a.candidates, b.candidates) && sameStrings(a.allowedIps, b.allowedIps) && sameStrings(a.tags, b.tags) &&
    (a.relay?.port ?? null) === (b.relay?.port ?? null) && (a.hub === true) === (b.hub === true) &&
    sameStrings(a.relayedBy ?? NO_RELAYS, b.relayedBy ?? NO_RELAYS)
  );
}

/** sameInfo compares two NodeInfos field by field. */
export function sameInfo(a: NodeInfo, b: NodeInfo): boolean {
  return (
    a.id === b.id && a.name === b.name && a.user === b.user && a.approved === b.approved &&
    a.addresses.ipv4 === b.addresses.ipv4 && a.addresses.ipv6 === b.addresses.ipv6 &&
    sameStrings(a.groups, b.groups) && sameStrings(a.tags, b.tags) && sameStrings(a.subnets ?? NO_SUBNETS, b.subnets ?? NO_SUBNETS) &&
    (a.posture === b.posture || isDeepStrictEqual(a.posture, b.posture))
  );
}

/** extensionsOf freezes one node's extensions, reusing the previous object when equal. */
export function extensionsOf(found: Readonly<Record<string, unknown>> | undefined, prev: Readonly<Record<string, unknown>> | undefined): Readonly<Record<string, unknown>> {
  if (!found) return prev && Object.keys(prev).length === 0 ? prev : EMPTY_EXTENSIONS;
  let empty = true;
  for (const _ in found) {
    empty = false;
    break;
  }
  if (empty) return EMPTY_EXTENSIONS;
  if (prev) {
    const keys = Object.keys(found);
    if (keys.length === Object.keys(prev).length && keys.every((k) => prev[k] === found[k] || isDeepStrictEqual(prev[k], found[k]))) return prev;
  }
  return Object.freeze({ ...found });
}

/**
 * Mesh holds every live node of one build: the AccessIndex and each node's entry, class, filter
 * and extensions. Peer lists are materialised only when a whole map is needed (a full map for a
 * connecting node, currentMap), one frozen list per class, cached until the mesh changes.
 */
export class Mesh {
  readonly nodes = new Map<string, MeshNode>();
  /** Live nodes in id order. */
  order: MeshNode[] = [];
  private readonly lists = new Map<number, readonly PeerNode[]>();
  /** Per class, the remote spokes its members are offered on demand (end-to-end hubs); cached like lists. */
  private readonly onDemandLists = new Map<number, readonly OnDemandPeer[]>();
  private relayHubs: RelayHub[] | null = null;
  /** How many class lists were materialised (for tests and benchmarks). */
  materializedLists = 0;
  /** True while applyNodeChanges writes: a mesh an error left so no longer says what nodes were sent. */
  updating = false;

  constructor(
    readonly index: AccessIndex,
    readonly epoch: string,
    readonly overlay: Readonly<{ ipv4Cidr: string; ipv6Prefix: string }>,
    readonly userGroups: Readonly<Record<string, readonly string[]>>,
  ) {}

  /** changed drops the materialised lists: call it after any change to nodes, entries or classes. */
  changed(): void {
    this.lists.clear();
    this.onDemandLists.clear();
    this.relayHubs = null;
  }

  /** insert adds a node in id order (and to its class). */
  insert(node: MeshNode): void {
    const lo = sortedPosition(this.order, node.id, idOf);
    this.order.splice(lo, 0, node);
    this.nodes.set(node.id, node);
    if (node.cls >= 0) this.index.classes[node.cls]!.members.add(node.id);
    this.changed();
  }

  /** remove takes a node out of the order and its class. */
  remove(node: MeshNode): void {
    const lo = sortedPosition(this.order, node.id, idOf);
    if (this.order[lo] === node) this.order.splice(lo, 1);
    this.nodes.delete(node.id);
    if (node.cls >= 0) this.index.classes[node.cls]!.members.delete(node.id);
    this.changed();
  }

  /** setClass moves a node to another class. */
  setClass(node: MeshNode, cls: number): void {
    if (node.cls === cls) return;
    if (node.cls >= 0) this.index.classes[node.cls]!.members.delete(node.id);
    node.cls = cls;
    if (cls >= 0) this.index.classes[cls]!.members.add(node.id);
    this.changed();
  }

  /** classList: the entries, in id order, of every node members of class k see (themselves included when k sees itself). */
  classList(k: number): readonly PeerNode[] {
    if (k < 0) return [];
    let list = this.lists.get(k);
    if (list) return list;
    const row = this.index.seesRow(k);
    const out: PeerNode[] = [];
    for (const n of this.order) if (n.cls >= 0 && row[n.cls] === 1) out.push(n.entry);
    list = Object.freeze(out);
    this.lists.set(k, list);
    this.materializedLists++;
    return list;
  }

  /** peersOf: a node's peers, sorted by id, never itself. */
  peersOf(node: MeshNode): PeerNode[] {
    const list = this.classList(node.cls);
    if (!this.index.sees(node.cls, node.cls)) return list as PeerNode[];
    const lo = sortedPosition(list, node.id, idOf);
    if (list[lo]?.id !== node.id) return list as PeerNode[];
    // A plain loop: slice and concat take a slow path on frozen arrays.
    const out = new Array<PeerNode>(list.length - 1);
    for (let i = 0, j = 0; i < list.length; i++) if (i !== lo) out[j++] = list[i]!;
    return Object.freeze(out) as PeerNode[];
  }

  get topology(): Topology {
    return this.index.topology;
  }

  /** onDemandOf: the remote spokes members of class k are offered on demand (on-demand-plan.ts), one frozen list per class. */
  onDemandOf(k: number): readonly OnDemandPeer[] {
    let list = this.onDemandLists.get(k);
    if (list) return list;
    this.relayHubs ??= relayHubsOf(this.order, this.topology);
    list = onDemandList(this.index, this.order, this.relayHubs, k);
    this.onDemandLists.set(k, list);
    return list;
  }

  /** onDemandFor: a node's on-demand offer (less itself); undefined when hubs forward hop by hop. */
  onDemandFor(node: MeshNode): OnDemandPeer[] | undefined {
    if (!this.topology.endToEnd) return undefined;
    return withoutSelf(this.onDemandOf(node.cls), node.id);
  }

  /** mapOf materialises a live node's NetworkMap (version 0: the MapStreamer numbers versions). */
  mapOf(nodeId: string): NetworkMapData | null {
    const node = this.nodes.get(nodeId);
    if (!node) return null;
    const map: NetworkMapData = {
      version: 0,
      epoch: this.epoch,
      self: node.self,
      peers: this.peersOf(node),
      packetFilter: node.packetFilter,
      routes: node.routes,
      extensions: node.extensions as Record<string, unknown>,
      overlay: { ipv4Cidr: this.overlay.ipv4Cidr, ipv6Prefix: this.overlay.ipv6Prefix },
    };
    const onDemand = this.onDemandFor(node);
    if (onDemand) map.onDemand = onDemand;
    return map;
  }
}

/** PreviousNode: what a build reuses of the last one when equal, so diffs compare by reference. */
export interface PreviousNode {
  entry?: PeerNode;
  self?: SelfNode;
  extensions?: Readonly<Record<string, unknown>>;
  ownIps?: readonly string[];
  packetFilter?: FilterRule[] | null;
  routes?: Route[];
}

/** keepFilter returns the previous filter when equal, so later diffs compare by reference. */
function keepFilter(prev: FilterRule[] | null | undefined, next: FilterRule[] | null): FilterRule[] | null {
  return prev !== undefined && sameFilter(prev, next) ? prev : next;
}

/** isQuarantined: the node's last posture decision found it non-compliant. */
export function isQuarantined(node: Pick<NodeRecord, 'posture'>): boolean {
  return node.posture !== null && node.posture !== undefined && node.posture.compliant === false;
}

/**
 * selfOf is a node's own view of itself: its entry plus its key expiry, whether it is quarantined,
 * the relays that serve it (always present, [] for none) and, for a relay, the pairs it serves (the
 * previous object when all are unchanged).
 */
export function selfOf(entry: PeerNode, record: Pick<NodeRecord, 'expiresAt' | 'posture'>, prev: PreviousNode | undefined, relayPairs?: RelayPairs): SelfNode {
  const expiresAt = record.expiresAt;
  const quarantined = isQuarantined(record);
  if (prev?.self && prev.entry === entry && prev.self.expiresAt === expiresAt && (prev.self.quarantined ?? false) === quarantined && sameRelayPairs(prev.self.relayPairs, relayPairs)) return prev.self;
  const self: SelfNode = { ...entry, expiresAt, quarantined, relayedBy: entry.relayedBy ?? (NO_RELAYS as string[]) };
  if (relayPairs) self.relayPairs = prev?.self?.relayPairs && sameRelayPairs(prev.self.relayPairs, relayPairs) ? prev.self.relayPairs : freezePairs(relayPairs);
  return Object.freeze(self);
}

/** relayNodesOf: the live relay nodes (a relay offer and a class) of a mesh being built, for relay-plan.ts. */
export function relayNodesOf(nodes: Iterable<{ id: string; record: NodeRecord; cls: number; grants: IndexedNode['grants']; ownIps: readonly string[] }>): RelayNode[] {
  const out: RelayNode[] = [];
  for (const n of nodes) if (n.record.relay && n.cls >= 0) out.push({ id: n.id, cls: n.cls, grants: n.grants, ownIps: n.ownIps, port: n.record.relay.port });
  return out;
}

/** relayPairsFor: the pairs a node serves when it is a relay, undefined otherwise. */
export function relayPairsFor(mesh: Mesh, node: MeshNode, relays: readonly RelayNode[]): RelayPairs | undefined {
  const r = relays.find((x) => x.id === node.id);
  if (!node.record.relay) return undefined;
  return relayPairsOf(mesh.index, r ?? { id: node.id, cls: -1, grants: null, ownIps: node.ownIps, port: node.record.relay.port }, (k) => mesh.index.classes[k]!.members);
}

/**
 * assembleMesh is the pure build step: the decision (null: none) and each node's extensions
 * (absent: none) applied to the live nodes. previous gives the last build's objects to reuse when
 * equal, so diffs compare by reference.
 */
export function assembleMesh(
  input: MapBuildInput,
  live: readonly NodeRecord[],
  infos: readonly NodeInfo[],
  decision: AccessDecision | null,
  extensions: ReadonlyArray<Readonly<Record<string, unknown>>> | null,
  previous: (id: string) => PreviousNode | undefined,
  previousIndex: AccessIndex | null = null,
  topology: Topology = FULL_MESH_TOPOLOGY,
): Mesh {
  const ownIps = live.map((n) => {
    const ips = ownIpsOf(n);
    const prev = previous(n.id)?.ownIps;
    return prev && prev[0] === ips[0] && prev[1] === ips[1] ? prev : ips;
  });
  const roles = infos.map((i) => topology.roleOf(i));
  const { index, placed } = AccessIndex.build(
    decision,
    live.map((n, i) => ({ id: n.id, approved: infos[i]!.approved, ownIps: ownIps[i]!, role: roles[i]! })),
    previousIndex,
    topology,
  );
  const mesh = new Mesh(index, input.epoch, Object.freeze({ ...input.overlay }), input.userGroups ?? {});
  const relays = relayNodesOf(live.map((record, i) => ({ id: record.id, record, cls: placed[i]!.cls, grants: placed[i]!.grants, ownIps: ownIps[i]! })));
  live.forEach((record, i) => {
    const prev = previous(record.id);
    const cls = placed[i]!.cls;
    const entry = keep(prev?.entry, peerEntry(record, input.presence(record), Topology.isHub(roles[i]!), relayedByOf(index, { id: record.id, cls }, relays)), samePeer);
    const node: MeshNode = {
      id: record.id,
      record,
      info: infos[i]!,
      entry,
      self: undefined as unknown as SelfNode,
      cls,
      role: roles[i]!,
      grants: placed[i]!.grants,
      ownIps: ownIps[i]!,
      packetFilter: null,
      routes: prev?.routes ?? EMPTY_ROUTES,
      extensions: extensionsOf(extensions?.[i], prev?.extensions),
    };
    node.packetFilter = keepFilter(prev?.packetFilter, index.filterFor(node));
    mesh.order.push(node);
    mesh.nodes.set(node.id, node);
  });
  // Selves last: a relay's pairs read every class's members.
  for (const node of mesh.order) node.self = selfOf(node.entry, node.record, previous(node.id), relayPairsFor(mesh, node, relays));
  return mesh;
}

/**
 * buildNetworkMaps is the pure step without plugins: one NetworkMap per live node (version 0), every
 * approved node seeing every other. Entries are built once and shared by every map.
 */
export function buildNetworkMaps(input: MapBuildInput & { previousPeers?: ReadonlyMap<string, PeerNode> }): { maps: Map<string, NetworkMapData>; peers: Map<string, PeerNode> } {
  const live = input.nodes.filter((n) => isLiveNode(n, input.now)).sort(byId);
  const infos = live.map((n) => nodeInfoOf(n, input.userGroups, input.subnets?.(n.id)));
  const prevEntry = input.previousPeers;
  const mesh = assembleMesh(input, live, infos, null, null, (id) => ({ entry: prevEntry?.get(id) }));
  const maps = new Map<string, NetworkMapData>();
  const peers = new Map<string, PeerNode>();
  for (const n of mesh.order) {
    maps.set(n.id, mesh.mapOf(n.id)!);
    peers.set(n.id, n.entry);
  }
  return { maps, peers };
}

/**
 * MapBuilder runs a full build: every live node from the store snapshot, the topology (the
 * decideTopology hook, else the configured one), one decideAccess for the whole mesh (scope
 * 'mesh'), one mapExtension per node, and the Mesh from them.
 */
export class MapBuilder {
  constructor(
    private readonly hooks: HookRunner,
    /** The controller's topology (config file or `trellis topology set`); a policy's (decideTopology) overrides it. */
    private readonly configured: () => Topology = () => FULL_MESH_TOPOLOGY,
    private readonly log: Pick<Logger, 'error' | 'info'> | null = null,
  ) {}

  async build(input: MapBuildInput, previous: Mesh | null = null): Promise<Mesh> {
    const live = input.nodes.filter((n) => isLiveNode(n, input.now)).sort(byId);
    const infos = live.map((n) => keep(previous?.nodes.get(n.id)?.info, nodeInfoOf(n, input.userGroups, input.subnets?.(n.id)), sameInfo));
    const topology = await this.decideTopology(previous?.topology ?? null);
    const decision = this.hooks.has('decideAccess')
      ? await this.hooks.runFirst('decideAccess', { nodes: infos.filter((i) => i.approved), scope: 'mesh' })
      : null;
    const extensions = this.hooks.has('mapExtension') ? await this.hooks.runParallelEach('mapExtension', infos.map((i) => [i] as [NodeInfo])) : null;
    return assembleMesh(input, live, infos, decision, extensions, (id) => previous?.nodes.get(id), previous?.index ?? null, topology);
  }

  /**
   * decideTopology: the policy's topology when a plugin gives one, else the configured one. A
   * topology the policy gives that does not parse is logged and the one in force stays.
   */
  async decideTopology(inForce: Topology | null): Promise<Topology> {
    const configured = this.configured();
    if (!this.hooks.has('decideTopology')) return configured;
    const d = await this.hooks.runFirst('decideTopology');
    if (!d) return configured;
    try {
      if (d.errors && d.errors.length > 0) throw errors.topologyInvalid(`the policy (version ${String(d.version).slice(0, 12)}) says: ${d.errors.join('; ')}`);
      if (d.config === null) return configured;
      const parsed = parseTopology(d.config, `topology of policy ${String(d.version).slice(0, 12)}`);
      if (inForce && inForce.source === 'policy' && inForce.version === d.version && isDeepStrictEqual(inForce.config, parsed)) return inForce;
      return new Topology(parsed, 'policy', d.version);
    } catch (err) {
      this.log?.error({ err }, 'the policy\'s topology is invalid; the topology in force stays');
      return inForce ?? configured;
    }
  }

  /** decideNodes asks the decider about changed nodes only (scope 'nodes'); null when there is none or it gave none. */
  async decideNodes(infos: readonly NodeInfo[]): Promise<AccessDecision | null> {
    if (!this.hooks.has('decideAccess')) return null;
    return this.hooks.runFirst('decideAccess', { nodes: infos, scope: 'nodes' });
  }

  /** extensionsFor gives each node's extensions, by plugin name. */
  async extensionsFor(infos: readonly NodeInfo[]): Promise<Array<Readonly<Record<string, unknown>>> | null> {
    if (!this.hooks.has('mapExtension')) return null;
    return this.hooks.runParallelEach('mapExtension', infos.map((i) => [i] as [NodeInfo]));
  }

  /** hasDecider: whether a plugin decides access (else the full mesh, no filters). */
  hasDecider(): boolean {
    return this.hooks.has('decideAccess');
  }
}
