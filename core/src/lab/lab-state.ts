/**
 * The lab's state file: everything the lab made (processes, namespaces, links, directories), so
 * `trellis lab down` can remove it even after a crash. Written atomically on every change.
 */
import type { TopologyConfig } from '../api/routes';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { errors } from '../errors';

/** The root-namespace bridge that "plays the internet" between the node namespaces. */
export const LAB_BRIDGE = 'trlbr0';
/** RFC 2544 benchmark range: never routed on the internet, so lab traffic cannot leak anywhere. */
export const LAB_SUBNET = { prefix: '198.18.0', gateway: '198.18.0.1', bits: 24 } as const;
export const NAMESPACE_PREFIX = 'trl-';
export const VETH_PREFIX = 'trlv';
export const WG_PREFIX = 'trlwg';
/** Highest node index: underlay addresses are 198.18.0.<10+k> (and the NAT LAN of node k is 10.<k>.0.0/24). */
export const MAX_NODE_INDEX = 244;
/** Every lab bridge is named trlbr<j>: trlbr0 for the first underlay link, trlbr1.. for further uplinks. */
export const BRIDGE_PREFIX = 'trlbr';
/** The STUN binding service of the lab's controller: two addresses, so nodes can classify their NAT. */
export const LAB_STUN_LISTEN = ['198.18.0.1:3478', '198.18.0.2:3478'] as const;
/** The second STUN address, an extra address of the host on trlbr0. */
export const LAB_STUN_SECOND_ADDRESS = '198.18.0.2';
/**
 * Where `lab.roam(node)` moves a node's underlay address (198.18.1.<10+k>, and back): a second
 * subnet on trlbr0, routed by the host, so a roaming node keeps its index and its bridge.
 */
export const LAB_ROAM_SUBNET = { prefix: '198.18.1', gateway: '198.18.1.1', bits: 24 } as const;
/** The root namespace's nft table that keeps forwarding between lab bridges from leaving them. */
export const BRIDGE_FORWARD_TABLE = 'trellis_lab_forward';
/** A router namespace is its node's namespace with this suffix (node names cannot hold a dot). */
export const ROUTER_SUFFIX = '.router';
/** How many underlay links a lab node may have (`lab up --uplinks n1=2`). */
export const MAX_UPLINKS = 4;

/**
 * linkSubnet is the underlay subnet of link j (1-based): 198.18.0.0/24 for the first (trlbr0),
 * 198.19.<j-2>.0/24 for the others (trlbr<j-1>); all inside RFC 2544's 198.18.0.0/15.
 */
export function linkSubnet(j: number): { prefix: string; gateway: string; bits: 24; bridge: string } {
  const prefix = j === 1 ? '198.18.0' : `198.19.${j - 2}`;
  return { prefix, gateway: `${prefix}.1`, bits: 24, bridge: `${BRIDGE_PREFIX}${j - 1}` };
}

/**
 * bridgeMac is the fixed MAC address of lab bridge `kind`/`index` (link bridges trlbr<j-1>: kind 0,
 * index j; site LAN bridges: kind 1). A bridge without one takes the lowest MAC of its ports, so a
 * later port could change the gateway's MAC under nodes that cached it: frames to the old MAC are
 * dropped until their ARP entry expires (up to ~45 s without the controller, STUN or the internet).
 */
export function bridgeMac(kind: 0 | 1, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index > 255) throw new RangeError(`bridge index ${index} is not 0..255`);
  return `02:54:52:4c:0${kind}:${index.toString(16).padStart(2, '0')}`;
}

export type LabNatType = 'easy' | 'hard';

/** A node's router (`lab up --nat n1=easy`): its own namespace between the node's LAN and the lab bridge. */
export interface LabRouterState {
  type: LabNatType;
  namespace: string;
  /** The root-namespace end of the router's veth on the bridge. */
  veth: string;
  /** The router's address on the node's LAN, the node's gateway (10.<k>.0.1). */
  lanGateway: string;
  /** The node's own (private) address (10.<k>.0.2). */
  lanAddress: string;
}

/** One underlay link of a node: eth0 on trlbr0, eth1 on trlbr1, … */
export interface LabLinkState {
  iface: string;
  /** The node's address on the link, e.g. 198.19.0.14. */
  address: string;
  gateway: string;
  bridge: string;
  /** The root-namespace end of the link's veth. */
  veth: string;
}

/** What the lab measured of a node's NAT with STUN (two server addresses, one local socket). */
export interface LabNatMeasurement {
  /** open: no NAT; easy: endpoint-independent mapping; hard: per destination; unknown: no or too few answers. */
  type: 'open' | 'easy' | 'hard' | 'unknown';
  reason: string;
  /** What each STUN address saw, e.g. { "198.18.0.1:3478": "198.18.0.11:40312" } (null: no answer). */
  mappings: Record<string, string | null>;
  at: number;
}

/** `trellis lab impair a b`: the direct underlay path between a and b, impaired in both directions. */
export interface LabImpairment {
  a: string;
  b: string;
  /** Added to the round trip (half each way), ms. */
  delayMs: number;
  /** ± around delayMs on the round trip, ms. */
  jitterMs: number;
  /** Round-trip loss, percent (each direction drops 1 − √(1 − loss)). */
  lossPct: number;
  /** Only a → b is impaired, with the whole figures (`lab impair --one-way`); absent: both ways. */
  oneWay?: boolean;
  directions: LabImpairedDirection[];
  createdAt: number;
}

/** One direction of an impairment: rules and the delay line in the sender's namespace. */
export interface LabImpairedDirection {
  from: string;
  to: string;
  namespace: string;
  /** The receiver's underlay addresses the rules match. */
  destinations: string[];
  /** nft table with the numgen loss rule; null without loss. */
  nftTable: string | null;
  /** iptables-legacy mangle chain sending the packets to the NFQUEUE; null without delay. */
  iptablesChain: string | null;
  queue: number | null;
  /** trellis-delay-queue's pid; null without delay. */
  pid: number | null;
  log: string;
}

export interface LabControllerState {
  url: string;
  /** host:port the controller listens on. */
  listen: string;
  pid: number | null;
  dataDir: string;
  log: string;
  /** The controller's CA (made by `controller init`), which the agents and the lab's clients pin; absent or null for a plain-http lab (`lab up --insecure`). */
  caFile?: string | null;
}

export interface LabNodeState {
  name: string;
  /** k in n<k>, trlv<k>, trlwg<k> and 198.18.0.<10+k>. */
  index: number;
  namespace: string;
  /** The WireGuard interface inside the namespace (unique on the machine). */
  iface: string;
  /** The root-namespace end of the veth pair, a port of the bridge. */
  veth: string;
  /** Underlay address inside the namespace, e.g. 198.18.0.11. */
  underlay: string;
  /** Overlay addresses, known once the agent has its map. */
  addresses: { ipv4: string; ipv6: string } | null;
  stateDir: string;
  socket: string;
  pid: number | null;
  log: string;
  /** Its router when the node is behind a NAT (`lab up --nat`); absent or null: on the bridge itself. */
  nat?: LabRouterState | null;
  /** The NAT type STUN measured from inside the node's namespace; absent until measured. */
  natMeasured?: LabNatMeasurement | null;
  /** Started with `trellis up --relay` (`lab up --relays`). */
  relay?: boolean;
  /** Its underlay links when it has more than one (`lab up --uplinks n1=2`); absent: eth0 alone. */
  links?: LabLinkState[];
  /** Environment of this node's agent over the lab's (e.g. another TRELLIS_WIREGUARD_GO); absent: none. */
  env?: Record<string, string>;
  /** Extra `trellis up` flags (a site gateway's --advertise-routes, a test's --exit-node, …). */
  agentArgs?: string[];
}

/** A LAN behind gateway nodes (`lab up --site`, lab-site.ts). */
export interface LabSiteSpec {
  /** Canonical IPv4 prefix of the LAN, /8../29. */
  prefix: string;
  /** Gateway node names, most preferred first. */
  gateways: string[];
}

export interface LabSiteState extends LabSiteSpec {
  namespace: string;
  /** The host on the LAN (.10). */
  host: string;
}

/** The lab's Prometheus (lab-prometheus.ts). */
export interface LabPrometheusState {
  listen: string;
  url: string;
  pid: number | null;
  /** <lab dir>/prometheus: config, target list, TSDB. */
  dir: string;
  configFile: string;
  agentTargetsFile: string;
  /** host:port where the controller serves its metrics for this Prometheus. */
  controllerTarget: string;
  rulesFile: string | null;
  log: string;
}

export interface LabState {
  version: 1;
  dir: string;
  createdAt: number;
  bridge: string;
  /** Reusable auth key the lab enrolls its nodes with (the state file is 0600). */
  authKey: string | null;
  configFile: string | null;
  probeIntervalMs: number;
  /** The CLI entry the lab runs its processes from. */
  cliPath: string;
  /** The lab's processes' TRELLIS_* settings (lab-env.ts), kept so restarts from another process match. */
  env: Record<string, string>;
  controller: LabControllerState | null;
  /** Controllers beyond the first, sharing `store` with it; absent or empty with one. */
  moreControllers?: LabControllerState[];
  /** The postgres:// URL the controllers keep their state in; absent or null: SQLite. */
  store?: string | null;
  nodes: LabNodeState[];
  /** The lab's Prometheus (`lab up --prometheus`); absent or null without one. */
  prometheus?: LabPrometheusState | null;
  /** The controller's STUN listen addresses (labs from before STUN: absent). */
  stun?: string[];
  /** Bridges beyond trlbr0 (for uplinks). */
  bridges?: string[];
  /** Impaired node pairs (`trellis lab impair`). */
  impairments?: LabImpairment[];
  /** LANs behind gateway nodes (`lab up --site`). */
  sites?: LabSiteState[];
  /** The "internet" namespace's echo server (`lab up --internet`); absent without one. */
  internet?: { pid: number | null } | null;
  /** The topology the lab started its controller with (`lab up --topology`); absent: full mesh. */
  topology?: TopologyConfig | null;
}

/** labDir is where the lab keeps its state: TRELLIS_LAB_DIR or /run/trellis-lab. */
export function labDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TRELLIS_LAB_DIR && env.TRELLIS_LAB_DIR !== '' ? env.TRELLIS_LAB_DIR : '/run/trellis-lab';
}

export function stateFilePath(dir: string): string {
  return join(dir, 'state.json');
}

/** readLabState returns the state file's contents, or null when no lab left one. */
export function readLabState(dir: string): LabState | null {
  let text: string;
  try {
    text = readFileSync(stateFilePath(dir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw errors.lab(`cannot read ${stateFilePath(dir)}: ${(err as Error).message}`);
  }
  try {
    const state = JSON.parse(text) as LabState;
    if (state.version !== 1 || !Array.isArray(state.nodes)) throw new Error('unknown layout');
    return state;
  } catch (err) {
    throw errors.lab(`state file ${stateFilePath(dir)} is corrupt (${(err as Error).message}); run \`trellis lab down\` to clear it`);
  }
}

/** writeLabState replaces the state file atomically (write a temp file, then rename). */
export function writeLabState(state: LabState): void {
  const file = stateFilePath(state.dir);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}
