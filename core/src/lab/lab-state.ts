/**
 * The lab's state file: everything the lab made (processes, namespaces, links, directories), so
 * `trellis lab down` can remove it even after a crash. Written atomically on every change.
 */
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
/** Highest node index: underlay addresses are 198.18.0.<10+k>. */
export const MAX_NODE_INDEX = 244;

export interface LabControllerState {
  url: string;
  /** host:port the controller listens on. */
  listen: string;
  pid: number | null;
  dataDir: string;
  log: string;
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
  /** host:port of the controller's metrics-prometheus endpoint. */
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
  /** Extra environment for the lab's processes, kept so restarts from another process match. */
  env: Record<string, string>;
  controller: LabControllerState | null;
  nodes: LabNodeState[];
  /** The lab's Prometheus (`lab up --prometheus`); absent or null without one. */
  prometheus?: LabPrometheusState | null;
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
