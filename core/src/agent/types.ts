/**
 * agent: the node runtime behind `trellis up`. These types are how the CLI starts it; the local
 * API it serves is in wire/agent-api.ts.
 */
import type { RelayOffer } from '../netmap/types';
import type { AgentStatus } from '../wire/agent-api';

export interface AgentOptions {
  /** e.g. https://198.18.0.1:8080 */
  controllerUrl: string;
  /** PEM file of the controller's CA, pinned in the state dir (controller-pin.ts). */
  ca?: string;
  /** The CA's "sha256:<hex>" fingerprint: trusted on first use, then pinned. */
  caFingerprint?: string;
  /** Allow plain http to a controller that is not on loopback (with a warning). */
  insecure?: boolean;
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
  /** An on-demand spoke peer (hubs that forward end to end) is removed after this long without traffic, ms. Default 60000. */
  onDemandIdleMs?: number;
  /**
   * Path of the device binary. Default: TRELLIS_WIREGUARD_GO, else trellis-wg
   * (/usr/local/lib/trellis/trellis-wg), else the bundled wireguard-go, else `wireguard-go` on PATH,
   * with a warning saying why and that NAT traversal, candidate probes and relays are unavailable.
   */
  wireguardGo?: string;
  /** YAML/JSON config file with the `agent.plugins` list. */
  configFile?: string;
  /** Underlay endpoints to advertise; default: discovered from the host's addresses + listenPort. */
  endpoints?: string[];
  /**
   * `trellis up --relay`: offer to relay other pairs' WireGuard datagrams on this UDP port; the
   * controller records it and lists it in every map. Absent or null: the node is not a relay.
   */
  relay?: RelayOffer | null;
  /**
   * STUN servers ("ip:port" or "host:port") asked on the WireGuard socket for this node's
   * reflexive address, which is reported as a candidate. Default: the controller's host, port 3478.
   */
  stun?: string[];
  /**
   * `trellis up --advertise-routes … [--route-check …] [--route-priority N] [--advertise-exit]`:
   * the subnets this node routes to (each with the address it pings, if any), its priority among
   * the gateways of the same prefix, and whether it is an exit node. Absent: not a gateway.
   */
  advertise?: { routes: Array<{ prefix: string; check: string | null }>; priority: number; exit: boolean; snat: boolean; checkIntervalMs?: number } | null;
}

/** AgentHandle is what startAgent returns: the CLI wires SIGTERM/SIGINT to stop() and exits on done. */
export interface AgentHandle {
  status(): Promise<AgentStatus>;
  /** Stops probes and the map stream, removes the device and the socket, shuts plugins down. Idempotent. */
  stop(): Promise<void>;
  /** Resolves once the agent has stopped (stop(), or POST /v1/down). */
  done: Promise<void>;
}
