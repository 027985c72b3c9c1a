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
}
