/** Bodies of the signed node routes: what an agent sends and what the controller answers. */
import type { Facts, PostureDecision } from '../api/hooks';
import type { TelemetryBatch } from '../api/telemetry';
import type { EndpointCandidate, NetworkMapData, RelayOffer } from '../netmap/types';

export interface EnrollRequest {
  authKey: string;
  name: string;
  hostname: string;
  /** base64 X25519 public key */
  wgKey: string;
  /** base64 Ed25519 public key */
  identityKey: string;
  endpoints: string[];
  /** `trellis up --relay`: the node relays on this UDP port; null or absent: it does not. */
  relay?: RelayOffer | null;
}

export interface EnrollResponse {
  nodeId: string;
  name: string;
  addresses: { ipv4: string; ipv6: string };
  map: NetworkMapData;
}

/**
 * EndpointsRequest: the node's endpoints. Version 1 is `endpoints` alone (addresses, best first);
 * version 2 adds `candidates`, the same addresses in the same order with their kind and when they
 * were learned. A version-2 agent sends candidates only to a controller whose maps carry them
 * (PeerNode.candidates), so a version-1 controller, which refuses unknown fields, never sees them;
 * a version-2 controller takes `endpoints` alone as local candidates learned now.
 */
export interface EndpointsRequest {
  endpoints: string[];
  candidates?: EndpointCandidate[];
  /**
   * Whether the node relays, and on which port; sent with every report, so `trellis up` with or
   * without --relay sets or clears it. Absent (agents from before relays): the stored flag stays.
   */
  relay?: RelayOffer | null;
}

/**
 * RoutesRequest: what the node advertises as a gateway (`trellis up --advertise-routes …
 * --route-check … --route-priority N --advertise-exit`), sent on every connect and whenever the
 * health of a checked route changes. An empty list withdraws every route.
 */
export interface RoutesRequest {
  routes: Array<{ prefix: string; check: string | null }>;
  priority: number;
  exit: boolean;
  /** Canonical prefix -> whether its check target answers; prefixes without a check are absent. */
  health: Record<string, boolean>;
}

export interface RoutesResponse {
  /** The node's stored routes after the request, with their decisions. */
  routes: Array<{ prefix: string; kind: 'subnet' | 'exit'; status: 'pending' | 'approved' | 'rejected' }>;
}

/**
 * ExitUseRequest: the exit node this node chose (`trellis up --exit-node`), its fallback, the one its
 * traffic leaves through now and why the chosen one is not in use; sent on every connect and
 * whenever any of it changes, so the console and `trellis routes` show who uses which exit node.
 */
export interface ExitUseRequest {
  /** Node names as given to --exit-node and --exit-node-fallback. */
  preferred: string;
  fallback: string | null;
  /** null: no exit node in use, traffic leaves locally. */
  inUse: string | null;
  problem: string | null;
  /** Times the exit node in use changed since the agent started. */
  switches: number;
}

export interface FactsRequest {
  facts: Facts;
  posture?: PostureDecision | null;
}

/** What an agent posts to ROUTES.telemetry: node and nodeId are set by the controller from the signature. */
export type TelemetryRequest = Omit<TelemetryBatch, 'node' | 'nodeId'>;

export interface TelemetryResponse {
  /** True when this batchId had been accepted before (a retry); the rows were not exported again. */
  duplicate: boolean;
  /** Rows taken, by kind; plugin rows by plugin name. */
  accepted: { probes: number; tunnels: number; /** Absent from controllers before relay samples. */ relays?: number; plugins: Record<string, number> };
}

/** Why a node registers a new WireGuard key. */
export type WgKeyRotationReason = 'scheduled' | 'requested';

/**
 * POST ROUTES.nodeWgKey, signed with the node identity key: the public half of a WireGuard key
 * the node generated (the private half never leaves it). The answer is the NodeKeyState with it.
 */
export interface WgKeyRotateRequest {
  wgKey: string;
  reason: WgKeyRotationReason;
}

/**
 * The answer to POST ROUTES.nodeWgKeyLease: the node may switch its device to a new key now and
 * register it before `until`; no peer of it starts a rotation meanwhile.
 */
export interface WgKeyLeaseResponse {
  until: number;
}

/**
 * POST ROUTES.nodeIdentity, signed with the current identity key: the new Ed25519 public key, and
 * proof that the node holds its private half (auth/signing.ts identityRenewalProof). The answer is
 * the NodeKeyState with the new key and expiry; from then on requests are signed with the new key.
 */
export interface IdentityRenewRequest {
  identityKey: string;
  /** base64 Ed25519 signature by the new key over identityRenewalMessage(nodeId, old key, new key). */
  proof: string;
}

/**
 * NodeKeyState is what the controller holds about one node's keys and when they change next:
 * GET ROUTES.nodeKeys answers it, and the map stream carries it as `event: key` when it changes.
 */
export interface NodeKeyState {
  nodeId: string;
  /** The WireGuard public key peers use for the node. */
  wgKey: string;
  /** Unix ms the controller registered wgKey. */
  wgKeyCreatedAt: number;
  /** How often the node rotates its WireGuard key, ms (controller setting keyRotation, by tag). */
  rotationIntervalMs: number;
  /** wgKeyCreatedAt + rotationIntervalMs: when the next scheduled rotation is due. */
  rotationDueAt: number;
  /** Set by `trellis keys rotate`: rotate now; null once a rotation registered a new key. */
  rotateRequestedAt: number | null;
  /** The Ed25519 public key node requests are verified with. */
  identityKey: string;
  /** Unix ms the identity credential lapses unless renewed; null for no lifetime. */
  identityExpiresAt: number | null;
  /** Lifetime a renewal grants, ms (controller setting identityLifetime). */
  identityLifetimeMs: number;
  /** Unix ms the node's key expires (it must enroll again with an auth key); null for never. */
  expiresAt: number | null;
}

/** What an agent reports about its connections; each becomes an audit entry conn.<kind>. */
export const CONNECTION_EVENT_KINDS = ['tunnel.up', 'tunnel.down', 'path.switched', 'relay.switched', 'quarantine.entered', 'quarantine.left', 'exit.switched'] as const;
export type ConnectionEventKind = (typeof CONNECTION_EVENT_KINDS)[number];

export interface ConnectionEvent {
  /** Unix ms on the agent's clock. */
  at: number;
  kind: ConnectionEventKind;
  /** The peer's node id (tunnel and path events; the exit node now in use, or the one left, for exit.switched). */
  peer?: string;
  /** Small facts about the event, e.g. { from: "direct", to: "relay:r1" } or { handshakeAgeS: 190 }. */
  details?: Record<string, string | number | boolean | null>;
}

export interface ConnectionEventsRequest {
  events: ConnectionEvent[];
}
