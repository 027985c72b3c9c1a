/**
 * netmap: the NetworkMap vocabulary shared by controller and agent.
 * A NetworkMap is everything one node needs to know; a MapResponse is how it travels.
 */

/** DeepReadonly freezes a NetworkMap at the type level: maps are values, never edited in place. */
export type DeepReadonly<T> = T extends (infer E)[]
  ? ReadonlyArray<DeepReadonly<E>>
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** One host:port where a node's WireGuard socket may be reached. */
export type Endpoint = string;

/**
 * How a node learned one of its endpoints: an address of its primary underlay interface (local),
 * of another underlay interface (uplink: a second ISP), its NAT-mapped address as a STUN server or
 * a relay saw it (reflexive), or an address through which a relay reaches it (relay).
 */
export const CANDIDATE_KINDS = ['local', 'uplink', 'reflexive', 'relay'] as const;
export type CandidateKind = (typeof CANDIDATE_KINDS)[number];

/**
 * EndpointCandidate: one address where a node's WireGuard socket may be reached, with how and when
 * the node learned it (candidate wire version 2; version 1 was the bare address list `endpoints`).
 */
export interface EndpointCandidate {
  kind: CandidateKind;
  /** "ip:port", "[ipv6]:port". */
  address: string;
  /** Unix ms (the node's clock) the node first learned the address. */
  learnedAt: number;
  /** Where it came from: the interface (local, uplink), the STUN server or relay (reflexive); absent when unknown. */
  source?: string;
}

/** The candidate wire version a controller's maps carry (PeerNode.candidates). */
export const CANDIDATES_VERSION = 2;

/** RelayOffer: the node forwards other pairs' WireGuard datagrams on this UDP port (`trellis up --relay`). */
export interface RelayOffer {
  port: number;
}

/** A node as seen by other nodes. Keys are base64 (the usual WireGuard text form). */
export interface PeerNode {
  id: string;
  name: string;
  /** WireGuard public key, base64. */
  wgKey: string;
  addresses: { ipv4: string; ipv6: string };
  /** Candidate underlay endpoints, best first (candidate version 1: the addresses of candidates). */
  endpoints: Endpoint[];
  /**
   * The same candidates with their kind and when the node learned them (version 2), in the same
   * order as endpoints. Absent in maps from controllers before version 2; an agent sends its own
   * candidates only to a controller whose maps carry them.
   */
  candidates?: EndpointCandidate[];
  /** Overlay /32 and /128: routed prefixes travel in NetworkMapData.routes, never here. */
  allowedIps: string[];
  tags: string[];
  user: string | null;
  online: boolean;
  /** Unix ms of the last time the controller heard from the node. */
  lastSeen: number | null;
  /** Set when the node relays for other pairs; null when it does not (absent in maps from before relays). */
  relay?: RelayOffer | null;
  /** True when the node is a hub of the topology (it forwards spokes' traffic); absent otherwise. */
  hub?: boolean;
  /**
   * Ids of the relays (sorted) that may serve this node: the access policy lets the node and the relay
   * see each other, and the relay's packet filter accepts the node on its relay port. A relay serves
   * a pair when it serves both ends (who are peers, or they would not be in each other's map).
   * Absent when none; a self node always has it (maps from before the relay policy: absent).
   */
  relayedBy?: string[];
}

/**
 * RelayPairs: the pairs a relay node may serve, as groups of node ids (sorted) and links between
 * groups ([i, j] with i <= j: every member of group i with every member of group j, [i, i] every
 * pair within group i). Groups are the relay's peers it serves, by class of alike nodes, so the
 * list stays as long as the relay's map, whatever the number of pairs.
 */
export interface RelayPairs {
  groups: string[][];
  links: Array<[number, number]>;
}

export interface SelfNode extends PeerNode {
  /** Unix ms after which the node must re-enroll; null for never. */
  expiresAt: number | null;
  /** For a relay node (relay set): the pairs it may serve; absent otherwise and in maps from before the relay policy. */
  relayPairs?: RelayPairs;
  /** The controller quarantined the node (its posture was found non-compliant); absent in maps from before. */
  quarantined?: boolean;
}

/** A packet filter rule: traffic from srcIps to dstPorts on this node is accepted. */
export interface FilterRule {
  srcIps: string[];
  /** Destination addresses/CIDRs on this node the rule covers; absent means all of this node's addresses. */
  dstIps?: string[];
  proto: 'tcp' | 'udp' | 'icmp' | 'any';
  /** Port ranges as [from, to]; empty means all ports. */
  dstPorts: Array<[number, number]>;
}

/** One changed entry of a PacketFilterPatch: its position, the addresses that join its srcIps and those that leave. */
export interface PacketFilterPatchEntry {
  at: number;
  /** Sorted (by bytes, as srcIps is), none already in srcIps. */
  add: string[];
  /** Sorted, each in srcIps. */
  remove: string[];
}

/**
 * PacketFilterPatch: a packet filter change in which only srcIps moved (a node with a named
 * source's addresses joined or left): the same number of entries, each keeping its place, dstIps,
 * dstPorts and proto. A join then costs each destination a few addresses instead of its whole
 * filter. Sent only on streams that asked for it (MAP_FEATURES_HEADER); an agent that cannot apply
 * it to its map asks for a full map.
 */
export interface PacketFilterPatch {
  /** Entries in the filter, before and after. */
  entries: number;
  /** In increasing `at`. */
  changes: PacketFilterPatchEntry[];
}

/**
 * What a route carries: a subnet behind a gateway, an exit node's default route (offered; each client
 * picks at most one), or the overlay through a hub (topologies where pairs talk through hubs).
 */
export type RouteKind = 'subnet' | 'exit' | 'transit';

export interface Route {
  /** Destination prefix, e.g. 10.20.0.0/16. */
  prefix: string;
  /** Node id of the peer whose tunnel carries the prefix: the gateway itself, or the hub in front of it. */
  via: string;
  /** Absent in maps from before kinds: a subnet. */
  kind?: RouteKind;
  /** The node that serves the prefix when via is a hub in front of it; absent when via serves it. */
  gateway?: string;
  /** That gateway's name, for status (it is not a peer of a node that reaches it through a hub). */
  gatewayName?: string;
}

export interface NetworkMapData {
  /** Monotonic per-node version; each change bumps it. */
  version: number;
  /** Controller instance id; a change means versions restart and a full map follows. */
  epoch: string;
  self: SelfNode;
  /** Sorted by id. */
  peers: PeerNode[];
  /** null means "no filter distributed": the agent accepts all mesh traffic (foundation default). */
  packetFilter: FilterRule[] | null;
  routes: Route[];
  /** Opaque plugin sections (shaping profile, posture policy version, ...), keyed by plugin name. */
  extensions: Record<string, unknown>;
  /** Overlay prefixes of the whole tailnet, routed to the WireGuard interface. */
  overlay: { ipv4Cidr: string; ipv6Prefix: string };
  /**
   * Remote spokes this node may configure as WireGuard peers while it talks to them, through a
   * hub's relay forwarder (hubs that keep end-to-end encryption, docs/hub-end-to-end.md). Never
   * peers at rest. Sorted by id; absent when the topology forwards hop by hop.
   */
  onDemand?: OnDemandPeer[];
}

/** OnDemandPeer: a remote spoke a node may add as a peer on demand, and the hubs whose relay serves the pair. */
export interface OnDemandPeer {
  id: string;
  name: string;
  wgKey: string;
  /** Overlay /32 and /128, as PeerNode.allowedIps. */
  allowedIps: string[];
  /** Ids of hubs (peers in the same map, with a relay offer) whose relay forwarder serves the pair, best first. */
  via: string[];
}

export type NetworkMap = DeepReadonly<NetworkMapData>;

/** A full map, sent on first connect or when the agent's base version is unknown. */
export interface FullMapResponse {
  kind: 'full';
  map: NetworkMapData;
}

/** The difference between baseVersion and version of one node's map. */
export interface DeltaMapResponse {
  kind: 'delta';
  epoch: string;
  baseVersion: number;
  version: number;
  /** Present when the self node changed. */
  self?: SelfNode;
  peersUpserted: PeerNode[];
  peersRemoved: string[];
  packetFilter?: FilterRule[] | null;
  /**
   * Instead of packetFilter, on streams that asked for filter patches: the change to the filter.
   * Never together with packetFilter on the wire.
   */
  packetFilterPatch?: PacketFilterPatch;
  routes?: Route[];
  extensions?: Record<string, unknown>;
  /**
   * The on-demand offer (NetworkMapData.onDemand) as a whole: a list when the map starts carrying
   * one (the topology's hubs now forward end to end), null when it stops. Otherwise changes travel
   * as onDemandUpserted / onDemandRemoved, so a spoke joining costs every other spoke one entry.
   */
  onDemand?: OnDemandPeer[] | null;
  /** Entries of the offer that appear or change, sorted by id (absent: none). */
  onDemandUpserted?: OnDemandPeer[];
  /** Ids that leave the offer, sorted (absent: none). */
  onDemandRemoved?: string[];
}

export type MapResponse = FullMapResponse | DeltaMapResponse;
