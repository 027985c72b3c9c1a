/**
 * The agent's local API: HTTP on the unix socket <stateDir>/agent.sock, read by `trellis status`,
 * `trellis down` and the lab.
 */
import type { PeerProbeStats, PostureDecision } from '../api/hooks';
import type { StatusText } from '../api/status-text';
import type { WgDeviceInfo } from '../wg/types';
import type { AgentPathsStatus } from './path-status';

export interface PeerStatus {
  id: string;
  name: string;
  wgKey: string;
  addresses: { ipv4: string; ipv6: string };
  endpoint: string | null;
  allowedIps: string[];
  /** Unix ms, null before the first handshake. */
  lastHandshake: number | null;
  rxBytes: number;
  txBytes: number;
  probe: PeerProbeStats | null;
  /** The path in use: 'direct' or the relay's name; absent from agents older than path choice. */
  path?: string;
  /** The peer is a hub of the topology (it forwards other pairs' traffic). */
  hub?: boolean;
}

/** AgentTopologyStatus: the node's place in the topology, from its map. */
export interface AgentTopologyStatus {
  /** hub: forwards between spokes; spoke: reaches non-direct nodes through a hub; mesh: direct peers only. */
  role: 'hub' | 'spoke' | 'mesh';
  /** The hub's name for a spoke (every overlay address without a direct peer goes through it); null otherwise. */
  via: string | null;
  /** The overlay prefixes routed through the hub. */
  transit: string[];
  /** A hub: the subnets behind spoke gateways it forwards, with the gateway's name (absent from older agents). */
  forwards?: Array<{ prefix: string; via: string }>;
  /** A hub forwards (IP forwarding on). */
  forwarding: boolean;
  /**
   * A spoke whose map offers remote spokes on demand (end-to-end through a hub relay): how many it
   * may add, and how many it holds now, staged (waiting for the handshake) or open. Absent otherwise.
   */
  onDemand?: { candidates: number; staged: number; open: number };
}

/** AgentRelayStatus is the node's relay forwarder (`trellis up --relay`), as `trellis status` shows it. */
export interface AgentRelayStatus {
  /** The UDP port it relays on. */
  port: number;
  running: boolean;
  /** Node pairs it may serve, nodes with a live address at it, sessions it forwards by. */
  pairs: number;
  nodes: number;
  sessions: number;
  forwardedPackets: number;
  forwardedBytes: number;
  /** Dropped datagrams by reason (notAllowed, unknownSource, badMac, ...); only reasons seen. */
  drops: Record<string, number>;
  /** Why it does not run or refused its configuration; null when fine. */
  error: string | null;
}

/** AgentKeyStatus is the key lifecycle as the agent sees it: `trellis status` shows it. */
export interface AgentKeyStatus {
  /** Unix ms the controller registered the WireGuard key in use; null before it said. */
  wgKeyCreatedAt: number | null;
  /** The node's rotation interval, ms, as the controller set it; null before it said. */
  rotationIntervalMs: number | null;
  /** When the next rotation runs (a requested one: now); null before the controller said. */
  nextRotationAt: number | null;
  /** An admin asked for a rotation that has not happened yet. */
  rotateRequested: boolean;
  /** A rotation is running now. */
  rotating: boolean;
  lastRotation: { at: number; reason: string; outcome: 'rotated' | 'failed'; registrationMs?: number; error?: string } | null;
  /** Unix ms the identity credential lapses unless renewed; null for no lifetime or before the controller said. */
  identityExpiresAt: number | null;
  nextRenewalAt: number | null;
  lastRenewal: { at: number; outcome: 'renewed' | 'failed'; error?: string } | null;
}

export interface AgentStatus {
  node: {
    id: string | null;
    name: string;
    iface: string;
    addresses: { ipv4: string; ipv6: string } | null;
    wgKey: string;
    listenPort: number;
  };
  controller: { url: string; connected: boolean; lastError: string | null };
  map: {
    version: number;
    epoch: string | null;
    source: 'controller' | 'cache' | 'none';
    appliedAt: number | null;
    /** How long the last apply (config, device, addresses, routes) took, ms. */
    lastApplyMs?: number | null;
  };
  /** Which WireGuard implementation and build serve the interface; null before it is up, absent from older agents. */
  device?: WgDeviceInfo | null;
  peers: PeerStatus[];
  posture: PostureDecision | null;
  /** Plugin-provided status sections, keyed by plugin name. */
  extensions: Record<string, unknown>;
  /** What plugins print in `trellis status` (AgentAccess.registerStatusText), in plugin setup order. */
  statusText?: StatusText[];
  /** The key lifecycle; absent from agents older than key rotation. */
  keys?: AgentKeyStatus;
  /** The relay this node runs for other pairs; null when it is no relay, absent from older agents. */
  relay?: AgentRelayStatus | null;
  /** Every peer's path, its candidates and why it won (`trellis paths`); absent from older agents. */
  paths?: AgentPathsStatus;
  /** Routes: the subnets installed through peers, and what this node advertises as a gateway. Absent from older agents. */
  routes?: AgentRoutesStatus;
  /** Absent from agents older than topologies. */
  topology?: AgentTopologyStatus;
}

export interface AgentRoutesStatus {
  /**
   * Subnets routed into the tunnel (allowed IPs and kernel routes), with the peer each goes through
   * (via) and, when that peer is a hub in front of the gateway, the gateway's name.
   */
  installed: Array<{ prefix: string; via: string; gateway?: string }>;
  /** What this node advertises (`trellis up --advertise-routes`), as the controller stored it. */
  advertised: Array<{ prefix: string; kind: 'subnet' | 'exit'; status: string; check: string | null; checkOk: boolean | null }>;
  /** `--route-include`: only accepted subnets inside these are installed; absent when not set. */
  include?: string[];
  /** IP forwarding and masquerading are on (the node advertises routes). */
  forwarding: boolean;
  /** The controller's refusal of the advertisement, if any. */
  lastError: string | null;
  /** `--exit-node`: the exit node wanted, its fallback, the one in use (null: traffic leaves locally), why the preferred one is not, and how often the one in use changed. */
  exit?: { preferred: string; fallback: string | null; inUse: string | null; problem: string | null; exclude: string[]; switches: number } | null;
}

/** Routes of the agent's local API, served as HTTP on the unix socket <stateDir>/agent.sock. */
export const AGENT_API = {
  status: '/v1/status',
  /** POST: tear the device down and exit. */
  down: '/v1/down',
} as const;
