/**
 * controller: the coordination server behind `trellis controller`. These types are its contract
 * with the CLI and the lab.
 */
import type { TopologyConfig } from '../api/routes';
export interface ControllerOptions {
  /** host:port to listen on, e.g. 198.18.0.1:8080 or 127.0.0.1:0 */
  listen: string;
  /** Holds trellis.db (SQLite), admin.token (0600), the signing key and policy bundles. */
  dataDir: string;
  /**
   * Where the state lives: absent (or "sqlite") for trellis.db in dataDir, or a postgres:// URL that
   * several controllers may share (each with its own dataDir holding the same admin token).
   */
  store?: string;
  /** Default 100.64.0.0/10. */
  ipv4Cidr?: string;
  /** ULA /48, default fd7a:7e11:5000::/48. */
  ipv6Prefix?: string;
  /** YAML/JSON config file with the `controller.plugins` list. */
  configFile?: string;
  /** How long changes are collected before maps are rebuilt, ms. Default 25. */
  batchWindowMs?: number;
  /** How long a gateway that lost the primary role of a route waits before taking it back, ms. Default 60 000. */
  routeHoldDownMs?: number;
  /** New nodes wait (no peers) until approved; stored in settings. Undefined keeps the stored setting. */
  requireApproval?: boolean;
  /**
   * host:port addresses of the STUN binding service (RFC 8489), e.g. ['0.0.0.0:3478']; two
   * different addresses let nodes classify their NAT. Absent or empty: no STUN service.
   */
  stun?: string[];
  /**
   * Serve plain http on a non-loopback address when there is no certificate (<dataDir>/tls, made by
   * `trellis controller init`). Without it such a start is refused.
   */
  insecure?: boolean;
  /** The topology (overrides the config file's controller.settings.topology); checked before anything starts. */
  topology?: TopologyConfig;
}

export interface ControllerHandle {
  /** e.g. https://198.18.0.1:8080 (http:// without a certificate) */
  url: string;
  /** The CA's PEM and fingerprint when the controller serves TLS; null for plain http. */
  tls: { caPem: string; caFingerprint: string } | null;
  /** Plaintext admin token (also in <dataDir>/admin.token). */
  adminToken: string;
  close(): Promise<void>;
}
