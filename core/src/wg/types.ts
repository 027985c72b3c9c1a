/**
 * wg: WireGuard device drivers. WgConfig is only what the device needs; drivers apply
 * the difference between two configs and never touch peers that did not change.
 */

export interface WgPeerConfig {
  /** base64 public key */
  publicKey: string;
  /** host:port, or null to wait for the peer to reach us */
  endpoint: string | null;
  /** CIDRs, canonical form */
  allowedIps: string[];
  /** seconds; 0 or undefined disables */
  persistentKeepalive?: number;
}

export interface WgConfig {
  /** base64 private key; never logged */
  privateKey: string;
  listenPort: number;
  /**
   * Firewall mark on the device's own UDP packets, so policy routing keeps them out of the tunnel
   * (an exit node's default route); 0 or absent: none.
   */
  fwmark?: number;
  /** Sorted by publicKey. */
  peers: WgPeerConfig[];
}

/** Live counters of one peer, read from the device. */
export interface WgPeerStats {
  publicKey: string;
  endpoint: string | null;
  /** Unix ms of the last completed handshake, or null if none yet. */
  lastHandshake: number | null;
  rxBytes: number;
  txBytes: number;
  allowedIps: string[];
}

export interface ReconfigureResult {
  /** Human summary: "no changes" or "added 1, updated 0, removed 2 peers". */
  summary: string;
  added: number;
  updated: number;
  removed: number;
  /** True when anything was written to the device. */
  changed: boolean;
}

/** TunOffloads are the segmentation offloads in force on a wireguard-go TUN (see tun-offloads.ts). */
export interface TunOffloads {
  /** The TUN carries a virtio-net header (IFF_VNET_HDR); null when the link is not a TUN. */
  vnetHdr: boolean | null;
  /** Active kernel features; each null when ethtool is not installed. */
  txChecksum: boolean | null;
  /** TCP segmentation offload for IPv4 and IPv6. */
  tso4: boolean | null;
  tso6: boolean | null;
  /** UDP segmentation offload (Linux >= 6.2 with a wireguard-go that asks for it). */
  uso: boolean | null;
}

/** Whether a device can carry STUN and disco datagrams for the agent (trellis-wg's control socket), and why not. */
export interface DiscoSupport {
  available: boolean;
  /** The device's control socket when available. */
  socket: string | null;
  /** Why not, in one line naming what is lost; null when available. */
  reason: string | null;
}

/** WgDeviceInfo says which implementation and build serve a device, and what the kernel offloads to it. */
export interface WgDeviceInfo {
  /** "trellis-wg" or "wireguard-go" for UapiDevice. */
  driver: string;
  /** Path of the binary the device's process runs; null when the process cannot be found. */
  binary: string | null;
  /** What the binary reports (`--version`), e.g. "v0.0.20250522". */
  version: string | null;
  /** The wireguard module version the build records (trellis-wg: the one it links); a pseudo-version names the upstream commit. */
  moduleVersion: string | null;
  /** Upstream commit (12 hex) for builds that record one; null for Debian's package. */
  commit: string | null;
  /** pid of the device's process, null when not found. */
  pid: number | null;
  /** Segmentation offloads in force on the interface; null when they cannot be read. */
  offloads: TunOffloads | null;
  /** Why the device does not run trellis-wg (or the current bundled build), when it fell back (one line). */
  fallback: string | null;
  /** Whether the agent can exchange STUN and disco datagrams on the device's WireGuard socket. */
  disco?: DiscoSupport;
}

/**
 * WgDevice is one WireGuard interface. UapiDevice drives wireguard-go over its unix socket;
 * a kernel driver (wg/netlink) or boringtun can implement the same interface.
 */
export interface WgDevice {
  readonly name: string;
  /** Create the interface, or adopt a running one with the same name. Idempotent. */
  up(): Promise<void>;
  /** Write only the difference between prev (what we last wrote; null = unknown, read it) and next. */
  reconfigure(next: WgConfig, prev: WgConfig | null): Promise<ReconfigureResult>;
  stats(): Promise<WgPeerStats[]>;
  /** Remove the interface and stop its process. Idempotent. */
  down(): Promise<void>;
  /** Which implementation and build serve the device (for `trellis status`); optional for fakes. */
  describe?(): Promise<WgDeviceInfo>;
}
