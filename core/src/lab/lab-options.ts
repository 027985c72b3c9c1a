/** What `Lab.up` takes, what it reports while it works, and what `trellis lab up --json` prints. */
import type { AgentStatus } from '../wire';
import type { LabPrometheusOptions } from './lab-prometheus';
import type { LabSiteSpec } from './lab-site';
import type { TopologyConfig } from '../api/routes';

export interface LabUpOptions {
  /** How many nodes (n1..nN) to start. */
  nodes: number;
  /** Plugin config file passed to the controller and every agent. */
  configFile?: string;
  /** Agent probe interval, ms. Default 1000. */
  probeIntervalMs?: number;
  /** ClickHouse HTTP URL: the plugins the services file names for clickhouse are merged into configFile with it. */
  clickhouseUrl?: string;
  /** ClickHouse database for clickhouseUrl. Default "trellis". */
  clickhouseDatabase?: string;
  /** Where the lab keeps its state; default TRELLIS_LAB_DIR or /run/trellis-lab. */
  dir?: string;
  /** The CLI entry to run; default core/dist/cli/main.js (build with `npx tsc -b core/tsconfig.json`). */
  cliPath?: string;
  /** How long to wait for every agent to hold its map with N−1 peers, ms. Default 90 000. */
  readyTimeoutMs?: number;
  /** Wait for the mesh before resolving (default true); false returns once every agent is started. */
  waitForMesh?: boolean;
  /**
   * Measure each node's NAT with STUN once it is started (default true). The join benchmark turns
   * it off: the probes are node processes that would compete with the joining agents for the CPU.
   */
  measureNats?: boolean;
  /**
   * Plain http instead of TLS: the controller runs without `controller init`, and it and every agent
   * get --insecure. Default false: the lab makes a CA and certificate, and the agents pin the CA.
   */
  insecure?: boolean;
  /**
   * TRELLIS_* settings of the lab's processes (e.g. TRELLIS_LOG_LEVEL). They get no other TRELLIS_*
   * variable of the caller, except TRELLIS_WIREGUARD_GO, TRELLIS_OPA and TRELLIS_LOG_LEVEL (lab-env.ts).
   */
  env?: Record<string, string>;
  /**
   * Run a Prometheus that scrapes every agent and the controller (the plugins the services file
   * names for prometheus are merged into configFile, serving where it scrapes) and loads the
   * shipped rules; stopped by `down`.
   */
  prometheus?: LabPrometheusOptions | boolean;
  /**
   * The lab's services file: which plugins serve clickhouse and prometheus (their own `lab` wiring
   * composes their config). Default deploy/lab/services.yaml of the checkout the CLI runs from.
   */
  servicesFile?: string;
  /** Node name → easy | hard: the node sits behind its own router namespace with MASQUERADE. */
  nat?: Record<string, string>;
  /** Nodes started with `trellis up --relay`. */
  relays?: string[];
  /** Node name → number of underlay links (a second bridge trlbr1, 198.19.0.0/24, and so on). */
  uplinks?: Record<string, number>;
  /** LANs behind gateway nodes; their gateways advertise the LAN with its host as route check. */
  sites?: LabSiteSpec[];
  /** An "internet" namespace (198.18.0.3, server 203.0.113.10) as every bridge node's default gateway, for exit-node tests. */
  internet?: boolean;
  /**
   * The controller's topology (merged into the config as controller.settings.topology); the lab is
   * ready when every node holds the peers the topology gives it (the controller's count), not N−1.
   */
  topology?: TopologyConfig;
  /** Extra `trellis up` flags per node name. */
  agentArgs?: Record<string, string[]>;
  /** Told about each step, for progress output. */
  onProgress?: (event: LabProgress) => void;
  /**
   * A postgres:// URL every lab controller keeps its state in (the caller owns the database);
   * absent: SQLite in the controller's data dir.
   */
  store?: string;
  /**
   * How many controllers share `store` (default 1); every agent is given all their URLs and fails
   * over between them. More than one needs `store`.
   */
  controllers?: number;
}

export type LabProgress =
  | { kind: 'cleared' }
  | { kind: 'network' }
  | { kind: 'controller'; url: string }
  | { kind: 'prometheus'; url: string; rulesFile: string | null }
  | { kind: 'node-started'; name: string }
  | { kind: 'nat-measured'; name: string; configured: string | null; measured: string; reason: string }
  | { kind: 'node-ready'; name: string; status: AgentStatus };

/** The shape `trellis lab up --json` prints. */
export interface LabDescription {
  controller: { url: string; pid: number | null; dataDir: string; caFile: string | null };
  /** The lab's Prometheus and what it scrapes; null without --prometheus. */
  prometheus: { url: string; pid: number | null; configFile: string; rulesFile: string | null; targets: { controller: string; agents: string[] } } | null;
  nodes: Array<{
    name: string;
    namespace: string;
    iface: string;
    addresses: { ipv4: string; ipv6: string } | null;
    underlay: string;
    /** Every underlay address peers can reach the node at (one per link; the router's when NATed). */
    underlays: string[];
    /** The node's own address behind its NAT; null when it is on the bridge itself. */
    privateAddress: string | null;
    nat: { configured: 'easy' | 'hard' | null; measured: string | null; reason: string | null };
    relay: boolean;
    stateDir: string;
    socket: string;
    pid: number | null;
  }>;
  /** Impaired node pairs, as `trellis lab impair` set them. */
  impairments: Array<{ a: string; b: string; delayMs: number; jitterMs: number; lossPct: number; oneWay: boolean }>;
  /** The controller's STUN listen addresses. */
  stun: string[];
  /** LANs behind gateways: namespace, prefix, host and gateways. */
  sites: Array<{ namespace: string; prefix: string; host: string; gateways: string[] }>;
}
