/**
 * agent: the node runtime behind `trellis up`. These types are its contract with the CLI and lab.
 */
import type { PeerProbeStats, PostureDecision } from '../api/hooks';

export interface AgentOptions {
  /** e.g. http://198.18.0.1:8080 */
  controllerUrl: string;
  /** Needed only for the first enrollment; later starts reuse the identity in stateDir. */
  authKey?: string;
  name: string;
  /** Holds identity.json (keys, 0600), netmap.json (the cached map), agent.sock (the local API). */
  stateDir: string;
  /** WireGuard interface name; must be unique on the machine (the UAPI socket dir is shared). */
  iface: string;
  /** WireGuard UDP port. Default 51820. */
  listenPort: number;
  /** Probe interval, ms. Default 1000. */
  probeIntervalMs: number;
  /** UDP port for overlay probes. Default 51999. */
  probePort: number;
  /** Path of the wireguard-go binary. Default: TRELLIS_WIREGUARD_GO or `wireguard-go` on PATH. */
  wireguardGo?: string;
  /** YAML/JSON config file with the `agent.plugins` list. */
  configFile?: string;
  /** Underlay endpoints to advertise; default: discovered from the host's addresses + listenPort. */
  endpoints?: string[];
}

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
  peers: PeerStatus[];
  posture: PostureDecision | null;
  /** Plugin-provided status sections, keyed by plugin name. */
  extensions: Record<string, unknown>;
}

/** Routes of the agent's local API, served as HTTP on the unix socket <stateDir>/agent.sock. */
export const AGENT_API = {
  status: '/v1/status',
  /** POST: tear the device down and exit. */
  down: '/v1/down',
} as const;

/** AgentHandle is what startAgent returns: the CLI wires SIGTERM/SIGINT to stop() and exits on done. */
export interface AgentHandle {
  status(): Promise<AgentStatus>;
  /** Stops probes and the map stream, removes the device and the socket, shuts plugins down. Idempotent. */
  stop(): Promise<void>;
  /** Resolves once the agent has stopped (stop(), or POST /v1/down). */
  done: Promise<void>;
}
