/**
 * lab: a Trellis mesh on one machine. A bridge plays the internet, each node is a network
 * namespace running `trellis up`, and the controller runs in the root namespace. The end-to-end
 * tests, the benchmark and `trellis lab` all drive it through this class. One lab per machine;
 * its state file lists everything it made so `down` can remove it even after a crash.
 */
import { acquireLabLock, releaseLabLock } from './lab-lock';
import { writeLabConfig } from './lab-config';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, rmdirSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join, resolve } from 'node:path';
import { AgentClient } from '../cli/agent-client';
import { ROUTES, type AgentStatus, type CreateKeyRequest, type CreateKeyResponse } from '../wire';
import { errors } from '../errors';
import { run } from '../sys/run';
import { createBridge, createNodeNetwork, freePort, removeNamespace, sweepLabNetwork } from './lab-network';
import { isAlive, isLabProcess, sleep, spawnDetached, terminateGroup, waitForExit } from './lab-process';
import {
  LAB_BRIDGE,
  LAB_SUBNET,
  MAX_NODE_INDEX,
  NAMESPACE_PREFIX,
  VETH_PREFIX,
  WG_PREFIX,
  labDir,
  readLabState,
  stateFilePath,
  writeLabState,
  type LabNodeState,
  type LabState,
} from './lab-state';

export interface LabUpOptions {
  /** How many nodes (n1..nN) to start. */
  nodes: number;
  /** Plugin config file passed to the controller and every agent. */
  configFile?: string;
  /** Agent probe interval, ms. Default 1000. */
  probeIntervalMs?: number;
  /** ClickHouse HTTP URL: the controller loads telemetry-clickhouse with it (merged into configFile). */
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
  /** Extra environment for the lab's processes (e.g. TRELLIS_LOG_LEVEL). */
  env?: Record<string, string>;
  /** Told about each step, for progress output. */
  onProgress?: (event: LabProgress) => void;
}

export type LabProgress =
  | { kind: 'cleared' }
  | { kind: 'network' }
  | { kind: 'controller'; url: string }
  | { kind: 'node-started'; name: string }
  | { kind: 'node-ready'; name: string; status: AgentStatus };

/** The shape `trellis lab up --json` prints. */
export interface LabDescription {
  controller: { url: string; pid: number | null; dataDir: string };
  nodes: Array<{
    name: string;
    namespace: string;
    iface: string;
    addresses: { ipv4: string; ipv6: string } | null;
    underlay: string;
    stateDir: string;
    socket: string;
    pid: number | null;
  }>;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

const NODE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const AGENT_LISTEN_PORT = 51820;

/** defaultCliPath finds core/dist/cli/main.js from both core/src/lab (ts-jest) and core/dist/lab. */
export function defaultCliPath(): string {
  return resolve(__dirname, '..', '..', 'dist', 'cli', 'main.js');
}

export class Lab {
  private constructor(private st: LabState) {}

  /** up clears whatever a previous lab left, then builds a fresh one and waits for the mesh. */
  static async up(opts: LabUpOptions): Promise<Lab> {
    if (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > MAX_NODE_INDEX) {
      throw errors.lab(`nodes must be a whole number from 1 to ${MAX_NODE_INDEX}, got ${opts.nodes}`);
    }
    const dir = resolve(opts.dir ?? labDir());
    const cliPath = resolve(opts.cliPath ?? process.env.TRELLIS_CLI ?? defaultCliPath());
    if (!existsSync(cliPath)) {
      throw errors.lab(`CLI entry ${cliPath} does not exist; build it with \`npx tsc -b core/tsconfig.json\``);
    }
    if (opts.configFile !== undefined && !existsSync(opts.configFile)) {
      throw errors.lab(`config file ${opts.configFile} does not exist`);
    }
    await acquireLabLock();
    await Lab.clear(dir);
    opts.onProgress?.({ kind: 'cleared' });
    let configFile = opts.configFile !== undefined ? resolve(opts.configFile) : null;
    if (opts.clickhouseUrl !== undefined) {
      configFile = writeLabConfig(join(dir, 'controller', 'lab-config.json'), configFile, { url: opts.clickhouseUrl, database: opts.clickhouseDatabase });
    }

    const lab = new Lab({
      version: 1,
      dir,
      createdAt: Date.now(),
      bridge: LAB_BRIDGE,
      authKey: null,
      configFile,
      probeIntervalMs: opts.probeIntervalMs ?? 1000,
      cliPath,
      env: opts.env ?? {},
      controller: null,
      nodes: [],
    });
    // On failure the processes and logs stay for inspection; `trellis lab down` (or the next up) clears them.
    lab.save();
    await createBridge();
    opts.onProgress?.({ kind: 'network' });

    const port = await freePort(LAB_SUBNET.gateway);
    lab.st.controller = {
      url: `http://${LAB_SUBNET.gateway}:${port}`,
      listen: `${LAB_SUBNET.gateway}:${port}`,
      pid: null,
      dataDir: join(dir, 'controller'),
      log: join(dir, 'logs', 'controller.log'),
    };
    lab.save();
    await lab.startController();
    opts.onProgress?.({ kind: 'controller', url: lab.st.controller.url });

    const key = await lab.adminJson<CreateKeyResponse>('POST', ROUTES.adminKeys, {
      reusable: true,
      ttlSeconds: 7 * 24 * 3600,
    } satisfies CreateKeyRequest);
    lab.st.authKey = key.key;
    lab.save();

    for (let k = 1; k <= opts.nodes; k++) {
      await lab.createNode(`n${k}`, k);
      opts.onProgress?.({ kind: 'node-started', name: `n${k}` });
    }
    if (opts.waitForMesh !== false) {
      await lab.waitForMesh(opts.readyTimeoutMs ?? 90_000, (name, status) =>
        opts.onProgress?.({ kind: 'node-ready', name, status }),
      );
    }
    return lab;
  }

  /** load attaches to the running lab through its state file. */
  static load(dir: string = labDir()): Lab {
    const st = readLabState(resolve(dir));
    if (!st) throw errors.lab(`no lab is running (no ${stateFilePath(resolve(dir))}); start one with \`trellis lab up\``);
    return new Lab(st);
  }

  /** running returns the lab whose controller is alive, or null. */
  static running(dir: string = labDir()): Lab | null {
    let st: LabState | null;
    try {
      st = readLabState(resolve(dir));
    } catch {
      return null;
    }
    if (!st?.controller || !isLabProcess(st.controller.pid, st.cliPath)) return null;
    return new Lab(st);
  }

  /**
   * clear removes everything a lab in dir made, or that any lab left by name (trl-* namespaces,
   * trlbr0, trlv*, trlwg* sockets). Idempotent; succeeds when nothing is there.
   */
  static async clear(dir: string = labDir()): Promise<void> {
    dir = resolve(dir);
    let st: LabState | null = null;
    try {
      st = readLabState(dir);
    } catch {
      st = null; // a corrupt state file: sweep by name below
    }
    if (st) {
      const pids = [...st.nodes.map((n) => n.pid), st.controller?.pid ?? null];
      await Promise.all(pids.map((p) => (p !== null && isLabProcess(p, st!.cliPath) ? terminateGroup(p, 5000) : undefined)));
    }
    await sweepLabNetwork(st ? st.nodes.map((n) => n.namespace) : []);
    for (const entry of ['controller', 'nodes', 'logs']) rmSync(join(dir, entry), { recursive: true, force: true });
    rmSync(stateFilePath(dir), { force: true });
    try {
      rmdirSync(dir);
    } catch {
      // not empty (someone else's files) or not there: leave it
    }
  }

  get dir(): string {
    return this.st.dir;
  }

  /** A copy of the state file's contents. */
  get state(): LabState {
    return JSON.parse(JSON.stringify(this.st)) as LabState;
  }

  get controllerUrl(): string {
    return this.controllerState().url;
  }

  get nodeNames(): string[] {
    return this.st.nodes.map((n) => n.name);
  }

  node(name: string): LabNodeState {
    const n = this.st.nodes.find((x) => x.name === name);
    if (!n) throw errors.lab(`no node "${name}" in the lab (nodes: ${this.nodeNames.join(', ') || 'none'})`);
    return { ...n };
  }

  describe(): LabDescription {
    const c = this.controllerState();
    return {
      controller: { url: c.url, pid: c.pid, dataDir: c.dataDir },
      nodes: this.st.nodes.map((n) => ({
        name: n.name,
        namespace: n.namespace,
        iface: n.iface,
        addresses: n.addresses,
        underlay: n.underlay,
        stateDir: n.stateDir,
        socket: n.socket,
        pid: n.pid,
      })),
    };
  }

  /** addNode starts one more node (default name n<k>) and waits until it holds a map with every peer. */
  async addNode(name?: string, readyTimeoutMs = 60_000): Promise<LabNodeState> {
    this.reload();
    const k = Math.max(0, ...this.st.nodes.map((n) => n.index)) + 1;
    if (k > MAX_NODE_INDEX) throw errors.lab(`the lab is full (${MAX_NODE_INDEX} nodes)`);
    const nodeName = name ?? `n${k}`;
    if (!NODE_NAME.test(nodeName)) {
      throw errors.lab(`node name "${nodeName}" is invalid; use lower-case letters, digits and - (not at either end), up to 63 characters`);
    }
    if (this.st.nodes.some((n) => n.name === nodeName)) throw errors.lab(`node "${nodeName}" already exists`);
    await this.createNode(nodeName, k);
    await this.waitForMesh(readyTimeoutMs, undefined, [nodeName]);
    return this.node(nodeName);
  }

  /** stopController sends SIGTERM to the controller and waits for it to exit. */
  async stopController(): Promise<void> {
    const c = this.controllerState();
    if (c.pid !== null) await terminateGroup(c.pid, 10_000);
    c.pid = null;
    this.save();
  }

  /** startController (re)starts the controller on the same data dir and port, waiting for /healthz. */
  async startController(): Promise<void> {
    const c = this.controllerState();
    if (isLabProcess(c.pid, this.st.cliPath)) return;
    const args = [this.st.cliPath, 'controller', '--listen', c.listen, '--data-dir', c.dataDir];
    if (this.st.configFile) args.push('--config', this.st.configFile);
    mkdirSync(c.dataDir, { recursive: true, mode: 0o700 });
    c.pid = await spawnDetached(process.execPath, args, c.log, this.childEnv());
    this.save();
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (!isAlive(c.pid)) throw errors.lab(`controller exited during start; see ${c.log}`);
      try {
        const res = await fetch(c.url + ROUTES.health, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw errors.lab(`controller did not answer ${ROUTES.health} within 30s; see ${c.log}`);
      await sleep(100);
    }
  }

  /** stopAgent sends SIGTERM to the node's agent (its whole process group) and waits for it to exit. */
  async stopAgent(name: string): Promise<void> {
    const n = this.nodeState(name);
    if (n.pid !== null) await terminateGroup(n.pid, 10_000);
    n.pid = null;
    this.save();
  }

  /**
   * killAgent SIGKILLs the agent process alone, like a crash: children such as wireguard-go are
   * left as a crash would leave them. startAgent brings the agent back.
   */
  async killAgent(name: string): Promise<void> {
    const n = this.nodeState(name);
    if (n.pid !== null && isAlive(n.pid)) {
      process.kill(n.pid, 'SIGKILL');
      await waitForExit(n.pid, 5000);
    }
    n.pid = null;
    this.save();
  }

  /** startAgent (re)starts a node's agent and waits until its local API answers (not for a map). */
  async startAgent(name: string, timeoutMs = 30_000): Promise<void> {
    const n = this.nodeState(name);
    if (isLabProcess(n.pid, this.st.cliPath)) return;
    await this.spawnAgent(n);
    const client = new AgentClient(n.socket);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!isAlive(n.pid)) throw errors.lab(`agent ${name} exited during start; see ${n.log}`);
      try {
        await client.status(1000);
        return;
      } catch {
        // socket not up yet
      }
      if (Date.now() > deadline) throw errors.lab(`agent ${name} did not answer on ${n.socket} within ${timeoutMs / 1000}s; see ${n.log}`);
      await sleep(100);
    }
  }

  /** status asks a node's agent for its AgentStatus over its unix socket. */
  status(name: string): Promise<AgentStatus> {
    return new AgentClient(this.nodeState(name).socket).status();
  }

  /** exec runs a command inside the node's namespace; a non-zero exit is a result, not an error. */
  exec(name: string, cmd: string, args: string[] = [], opts: { timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
    const ns = this.nodeState(name).namespace;
    return new Promise((resolvePromise, reject) => {
      const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => err.push(c));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(errors.lab(`cannot run ${cmd} in ${ns}: ${e.message}`));
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolvePromise({
          code: code ?? (signal ? 128 + (signalNumber(signal) ?? 0) : 1),
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        });
      });
      // A command that exits before reading its stdin must not crash the caller with EPIPE.
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input ?? '');
    });
  }

  /** adminFetch calls the controller's admin API with the lab's admin token. */
  adminFetch(path: string, init: RequestInit = {}): Promise<Response> {
    const c = this.controllerState();
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${this.adminToken()}`);
    if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
    return fetch(c.url + path, { ...init, headers });
  }

  /** down stops every lab process, removes the namespaces, links, sockets and the lab directory. */
  async down(): Promise<void> {
    await Lab.clear(this.st.dir);
    releaseLabLock();
  }

  /**
   * waitForMesh waits until each named node (default all) holds a map with every other lab node
   * as a peer; onReady hears each node as it gets there.
   */
  async waitForMesh(
    timeoutMs: number,
    onReady?: (name: string, status: AgentStatus) => void,
    names: string[] = this.nodeNames,
  ): Promise<void> {
    const want = this.st.nodes.length - 1;
    const pending = new Set(names);
    const last = new Map<string, string>();
    const deadline = Date.now() + timeoutMs;
    while (pending.size > 0) {
      for (const name of [...pending]) {
        const n = this.nodeState(name);
        if (!isAlive(n.pid)) throw errors.lab(`agent ${name} exited before it got its map; see ${n.log}`);
        try {
          const s = await new AgentClient(n.socket).status(2000);
          last.set(name, `map ${s.map.source} v${s.map.version}, ${s.peers.length} peers`);
          if (s.map.source !== 'none' && s.peers.length >= want) {
            pending.delete(name);
            if (s.node.addresses) n.addresses = { ...s.node.addresses };
            this.save();
            onReady?.(name, s);
          }
        } catch (err) {
          last.set(name, (err as Error).message);
        }
      }
      if (pending.size === 0) break;
      if (Date.now() > deadline) {
        const first = [...pending][0]!;
        throw errors.lab(
          `node ${first} did not get its map with ${want} peers within ${Math.round(timeoutMs / 1000)}s ` +
            `(last: ${last.get(first) ?? 'no answer'}); see ${this.nodeState(first).log}`,
        );
      }
      await sleep(200);
    }
  }

  private childEnv(): NodeJS.ProcessEnv {
    return { ...process.env, ...(this.st.env ?? {}) };
  }

  private async createNode(name: string, k: number): Promise<void> {
    const n: LabNodeState = {
      name,
      index: k,
      namespace: `${NAMESPACE_PREFIX}${name}`,
      iface: `${WG_PREFIX}${k}`,
      veth: `${VETH_PREFIX}${k}`,
      underlay: `${LAB_SUBNET.prefix}.${10 + k}`,
      addresses: null,
      stateDir: join(this.st.dir, 'nodes', name),
      socket: join(this.st.dir, 'nodes', name, 'agent.sock'),
      pid: null,
      log: join(this.st.dir, 'logs', `${name}.log`),
    };
    // Record first, so a crash half-way still leaves the namespace listed for `down`.
    this.st.nodes.push(n);
    this.save();
    try {
      await createNodeNetwork(n);
    } catch (err) {
      await removeNamespace(n.namespace).catch(() => undefined);
      await run('ip', ['link', 'del', n.veth]).catch(() => undefined);
      throw err;
    }
    mkdirSync(n.stateDir, { recursive: true, mode: 0o700 });
    await this.spawnAgent(n);
  }

  private async spawnAgent(n: LabNodeState): Promise<void> {
    const args = [
      'netns', 'exec', n.namespace,
      process.execPath, this.st.cliPath, 'up',
      '--controller', this.controllerState().url,
      '--name', n.name,
      '--state-dir', n.stateDir,
      '--iface', n.iface,
      '--listen-port', String(AGENT_LISTEN_PORT),
      '--endpoint', `${n.underlay}:${AGENT_LISTEN_PORT}`,
      '--probe-interval', `${this.st.probeIntervalMs}ms`,
    ];
    if (this.st.configFile) args.push('--config', this.st.configFile);
    const env = this.childEnv();
    // The auth key goes by environment, not argv, so `ps` does not show it; only the first start needs it.
    if (this.st.authKey && !existsSync(join(n.stateDir, 'identity.json'))) env.TRELLIS_AUTH_KEY = this.st.authKey;
    n.pid = await spawnDetached('ip', args, n.log, env);
    this.save();
  }

  private adminToken(): string {
    const file = join(this.controllerState().dataDir, 'admin.token');
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw errors.lab(`cannot read the controller's admin token ${file}: ${(err as Error).message}`);
    }
  }

  private async adminJson<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.adminFetch(path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw errors.lab(`controller answered ${res.status} to ${method} ${path}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  }

  private controllerState() {
    if (!this.st.controller) throw errors.lab('the lab has no controller yet');
    return this.st.controller;
  }

  private nodeState(name: string): LabNodeState {
    const n = this.st.nodes.find((x) => x.name === name);
    if (!n) throw errors.lab(`no node "${name}" in the lab (nodes: ${this.nodeNames.join(', ') || 'none'})`);
    return n;
  }

  /** reload picks up nodes another process (another `trellis lab add`) recorded. */
  private reload(): void {
    const st = readLabState(this.st.dir);
    if (st) this.st = st;
  }

  private save(): void {
    writeLabState(this.st);
  }
}

function signalNumber(sig: NodeJS.Signals): number | undefined {
  return osConstants.signals[sig];
}
