/**
 * lab: a Trellis mesh on one machine. A bridge plays the internet, each node is a network
 * namespace running `trellis up`, and the controller runs in the root namespace. The end-to-end
 * tests, the benchmark and `trellis lab` all drive it through this class. One lab per machine;
 * its state file lists everything it made so `down` can remove it even after a crash.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, rmdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { controllerTlsFiles } from '../auth/controller-tls';
import { trustingFetch } from '../auth/controller-trust';
import { initControllerTls, parseSans } from '../auth/tls-certificates';
import { AdminClient } from '../client/admin-client';
import { AgentClient } from '../client/agent-client';
import { errors } from '../errors';
import { run } from '../sys/run';
import { ROUTES, type AgentStatus, type CreateKeyRequest, type CreateKeyResponse, type TopologyView } from '../wire';
import { defaultServicesFile, readServicesFile, writeLabConfig } from './lab-config';
import { acquireLabLock, releaseLabLock } from './lab-lock';
import { createBridge, createNodeNetwork, freePort, removeNamespace, sweepLabNetwork } from './lab-network';
import { applyDirection, checkImpairment, clearDirection, delayQueueBinary, perDirection, type ImpairmentSpec } from './lab-impairment';
import { mapLimited, measureNat } from './lab-nat-measure';
import { createMultiLinkNodeNetwork, createNatNodeNetwork, createUplinkBridges, linksOf, routerState } from './lab-routed-network';
import { labHubSelected, planTopology, type LabNodePlan } from './lab-topology';
import { parseTopology } from '../controller/topology';
import {
  DEFAULT_LAB_PROMETHEUS_LISTEN,
  LAB_AGENT_METRICS_PORT,
  defaultRulesFile,
  isLabPrometheus,
  labPrometheusState,
  startPrometheus,
  strayLabPrometheusPids,
  writeAgentTargets,
} from './lab-prometheus';
import type { LabDescription, LabUpOptions } from './lab-options';
import { isAlive, isLabProcess, signalGroup, terminateGroup, waitForExit } from './process-group';
import { labChildEnv, labSettingsAtUp } from './lab-env';
import { spawnAgentProcess, startControllerProcess, waitForAgentApi } from './lab-processes';
import {
  LAB_BRIDGE,
  LAB_ROAM_SUBNET,
  LAB_STUN_LISTEN,
  LAB_SUBNET,
  MAX_NODE_INDEX,
  NAMESPACE_PREFIX,
  VETH_PREFIX,
  WG_PREFIX,
  labDir,
  readLabState,
  stateFilePath,
  writeLabState,
  type LabImpairedDirection,
  type LabImpairment,
  type LabControllerState,
  type LabNodeState,
  type LabState,
} from './lab-state';
import { waitForMesh } from './mesh-readiness';
import { attachGateway, createSite, gatewayArgs, siteState, type LabSiteState } from './lab-site';
import { createInternet, useInternet } from './lab-internet';
import { execInNamespace, type ExecResult } from './namespace-exec';

export type { LabDescription, LabProgress, LabUpOptions } from './lab-options';
export type { ExecResult } from './namespace-exec';

const NODE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** underlaysOf: every underlay address peers reach the node at (one per link; its router's when NATed). */
export function underlaysOf(n: LabNodeState): string[] {
  return n.links ? n.links.map((l) => l.address) : [n.underlay];
}

/** defaultCliPath finds core/dist/cli/main.js from both core/src/lab (ts-jest) and core/dist/lab. */
export function defaultCliPath(): string {
  return resolve(__dirname, '..', '..', 'dist', 'cli', 'main.js');
}

export class Lab {
  /** Extra flags for nodes not made yet (LabUpOptions.agentArgs). */
  private agentArgs: Record<string, string[]> = {};
  private fetchFn: typeof fetch | null = null;

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
    // The plugins of the services the lab runs beside the mesh, read before anything is made.
    const prometheusWanted = opts.prometheus !== undefined && opts.prometheus !== false;
    const servicePlugins = opts.clickhouseUrl !== undefined || prometheusWanted ? readServicesFile(resolve(opts.servicesFile ?? defaultServicesFile(cliPath))) : null;
    // Bad topology flags are refused before the lock is taken or anything is cleared or made.
    if (opts.topology !== undefined) parseTopology(opts.topology, 'lab --topology');
    const plan = planTopology(opts.nodes, { nat: opts.nat, relays: opts.relays, uplinks: opts.uplinks });
    // Hubs that forward end to end do it with their relay forwarder: they run `trellis up --relay`.
    if (opts.topology?.hubForwarding === 'end-to-end') for (const p of plan) if (labHubSelected(opts.topology.hubs ?? [], p.name)) p.relay = true;
    const controllers = opts.controllers ?? 1;
    if (!Number.isInteger(controllers) || controllers < 1 || controllers > 8) throw errors.lab(`controllers must be a whole number from 1 to 8, got ${controllers}`);
    if (controllers > 1 && !opts.store) throw errors.lab(`${controllers} controllers need a store they share: pass store (a postgres:// URL)`);
    if (opts.store !== undefined && !/^postgres(ql)?:\/\//.test(opts.store)) throw errors.lab('store must be a postgres:// URL');
    const sites = (opts.sites ?? []).map((spec, i) => siteState(spec, i + 1));
    for (const site of sites) {
      for (const g of site.gateways) {
        const k = /^n(\d+)$/.exec(g);
        if (!k || Number(k[1]) < 1 || Number(k[1]) > opts.nodes) throw errors.lab(`site ${site.prefix}: gateway "${g}" is not one of n1..n${opts.nodes}`);
      }
    }
    await acquireLabLock();
    await Lab.clear(dir);
    opts.onProgress?.({ kind: 'cleared' });
    const configFile = opts.configFile !== undefined ? resolve(opts.configFile) : null;

    const lab = new Lab({
      version: 1,
      dir,
      createdAt: Date.now(),
      bridge: LAB_BRIDGE,
      authKey: null,
      configFile,
      probeIntervalMs: opts.probeIntervalMs ?? 1000,
      cliPath,
      env: labSettingsAtUp(process.env, opts.env),
      controller: null,
      moreControllers: [],
      store: opts.store ?? null,
      nodes: [],
      stun: [...LAB_STUN_LISTEN],
      bridges: [],
      impairments: [],
      sites,
    });
    lab.agentArgs = opts.agentArgs ?? {};
    // On failure the processes and logs stay for inspection; `trellis lab down` (or the next up) clears them.
    lab.save();
    await createBridge();
    lab.st.bridges = await createUplinkBridges(Math.max(1, ...plan.map((p) => p.links)));
    lab.save();
    for (const site of sites) await createSite(site);
    if (opts.internet) {
      lab.st.internet = { pid: null };
      lab.save();
      lab.st.internet.pid = await createInternet(join(dir, 'logs'));
      lab.save();
    }
    opts.onProgress?.({ kind: 'network' });

    const prometheus = opts.prometheus === true ? {} : opts.prometheus === false ? undefined : opts.prometheus;
    if (prometheus !== undefined) {
      const controllerTarget = `${LAB_SUBNET.gateway}:${await freePort(LAB_SUBNET.gateway)}`;
      lab.st.prometheus = labPrometheusState(dir, prometheus.listen ?? DEFAULT_LAB_PROMETHEUS_LISTEN, controllerTarget, prometheus.rulesFile ?? defaultRulesFile(cliPath));
    }
    lab.st.topology = opts.topology ?? null;
    if (opts.clickhouseUrl !== undefined || lab.st.prometheus || opts.topology) {
      lab.st.configFile = writeLabConfig(
        join(dir, 'controller', 'lab-config.json'),
        configFile,
        {
          ...(opts.clickhouseUrl !== undefined ? { clickhouse: { url: opts.clickhouseUrl, database: opts.clickhouseDatabase } } : {}),
          ...(lab.st.prometheus ? { prometheus: { listen: { controller: lab.st.prometheus.controllerTarget, agent: `0.0.0.0:${LAB_AGENT_METRICS_PORT}` } } } : {}),
        },
        servicePlugins,
        opts.topology ? { topology: opts.topology } : null,
      );
    }
    lab.save();

    const port = await freePort(LAB_SUBNET.gateway);
    const dataDir = join(dir, 'controller');
    // TLS by default, as a real deployment: `controller init` for the bridge address, and every client pins the CA.
    const tls = opts.insecure === true ? null : await initControllerTls(dataDir, parseSans(LAB_SUBNET.gateway), true);
    lab.st.controller = {
      url: `${tls ? 'https' : 'http'}://${LAB_SUBNET.gateway}:${port}`,
      listen: `${LAB_SUBNET.gateway}:${port}`,
      pid: null,
      dataDir,
      log: join(dir, 'logs', 'controller.log'),
      caFile: tls ? tls.files.caCert : null,
    };
    lab.save();
    await lab.startController();
    opts.onProgress?.({ kind: 'controller', url: lab.st.controller.url });
    for (let i = 2; i <= controllers; i++) {
      const more = await freePort(LAB_SUBNET.gateway);
      const c = {
        url: `${tls ? 'https' : 'http'}://${LAB_SUBNET.gateway}:${more}`,
        listen: `${LAB_SUBNET.gateway}:${more}`,
        pid: null,
        dataDir: join(dir, `controller-${i}`),
        log: join(dir, 'logs', `controller-${i}.log`),
        caFile: tls ? tls.files.caCert : null,
      };
      lab.st.moreControllers!.push(c);
      lab.save();
      // The same admin token and audit signing key as the first: one control plane, several doors.
      mkdirSync(c.dataDir, { recursive: true, mode: 0o700 });
      for (const f of ['admin.token', 'signing.key', 'signing.pub']) {
        if (existsSync(join(lab.st.controller.dataDir, f))) copyFileSync(join(lab.st.controller.dataDir, f), join(c.dataDir, f));
      }
      if (tls) {
        // The same CA too (agents pin one), with a certificate of its own.
        const from = controllerTlsFiles(lab.st.controller.dataDir);
        const to = controllerTlsFiles(c.dataDir);
        mkdirSync(to.dir, { recursive: true, mode: 0o700 });
        copyFileSync(from.caCert, to.caCert);
        copyFileSync(from.caKey, to.caKey);
        await initControllerTls(c.dataDir, parseSans(LAB_SUBNET.gateway), true);
      }
      await startControllerProcess(lab.st, c, () => lab.save());
      opts.onProgress?.({ kind: 'controller', url: c.url });
    }
    const p = lab.st.prometheus;
    if (p) {
      p.pid = await startPrometheus(p, [], labChildEnv(process.env, lab.st.env));
      lab.save();
      opts.onProgress?.({ kind: 'prometheus', url: p.url, rulesFile: p.rulesFile });
    }

    const key = await lab
      .admin()
      .request<CreateKeyResponse>('POST', ROUTES.adminKeys, { reusable: true, ttlSeconds: 7 * 24 * 3600 } satisfies CreateKeyRequest)
      .catch((err: Error) => {
        throw errors.lab(`the controller did not create the lab's auth key: ${err.message}`);
      });
    lab.st.authKey = key.key;
    lab.save();

    for (const p of plan) {
      await lab.createNode(p.name, p.index, p);
      opts.onProgress?.({ kind: 'node-started', name: p.name });
    }
    if (opts.measureNats !== false) {
      await lab.measureNats(lab.nodeNames, (n) =>
        opts.onProgress?.({ kind: 'nat-measured', name: n.name, configured: n.nat?.type ?? null, measured: n.natMeasured?.type ?? 'unknown', reason: n.natMeasured?.reason ?? '' }),
      );
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

  /** running returns the lab while one of its controllers is alive (with several, the first may be down), or null. */
  static running(dir: string = labDir()): Lab | null {
    let st: LabState | null;
    try {
      st = readLabState(resolve(dir));
    } catch {
      return null;
    }
    if (!st?.controller) return null;
    const controllers = [st.controller, ...(st.moreControllers ?? [])];
    return controllers.some((c) => isLabProcess(c.pid, st.cliPath)) ? new Lab(st) : null;
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
      const pids = [...st.nodes.map((n) => n.pid), st.controller?.pid ?? null, ...(st.moreControllers ?? []).map((c) => c.pid)];
      await Promise.all(pids.map((p) => (p !== null && isLabProcess(p, st!.cliPath) ? terminateGroup(p, 5000) : undefined)));
    }
    const promPids = [...new Set([...(st?.prometheus?.pid != null && isLabPrometheus(st.prometheus.pid) ? [st.prometheus.pid] : []), ...strayLabPrometheusPids()])];
    await Promise.all(promPids.map((p) => terminateGroup(p, 5000)));
    await sweepLabNetwork(st ? st.nodes.map((n) => n.namespace) : []);
    for (const entry of ['controller', 'nodes', 'logs', 'prometheus', ...(st?.moreControllers ?? []).map((c) => c.dataDir)]) rmSync(resolve(dir, entry), { recursive: true, force: true });
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

  /** Every controller's URL, the first one first: what each agent is given. */
  get controllerUrls(): string[] {
    return this.allControllers().map((c) => c.url);
  }

  /**
   * killController SIGKILLs controller i (0: the first) and its process group, like a crash: it
   * says goodbye to nobody. startController(i) brings it back.
   */
  async killController(i: number): Promise<void> {
    const c = this.controllerAt(i);
    if (c.pid !== null && isAlive(c.pid)) {
      signalGroup(c.pid, 'SIGKILL');
      await waitForExit(c.pid, 5000);
    }
    c.pid = null;
    this.save();
  }

  /** controllerPid is controller i's process id, or null when it is not running. */
  controllerPid(i: number): number | null {
    const c = this.controllerAt(i);
    return isLabProcess(c.pid, this.st.cliPath) ? c.pid : null;
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
    const p = this.st.prometheus ?? null;
    return {
      controller: { url: c.url, pid: c.pid, dataDir: c.dataDir, caFile: c.caFile ?? null },
      prometheus: p
        ? {
            url: p.url,
            pid: p.pid,
            configFile: p.configFile,
            rulesFile: p.rulesFile,
            targets: { controller: p.controllerTarget, agents: this.st.nodes.map((n) => `${n.underlay}:${LAB_AGENT_METRICS_PORT}`) },
          }
        : null,
      nodes: this.st.nodes.map((n) => ({
        name: n.name,
        namespace: n.namespace,
        iface: n.iface,
        addresses: n.addresses,
        underlay: n.underlay,
        underlays: underlaysOf(n),
        privateAddress: n.nat?.lanAddress ?? null,
        nat: { configured: n.nat?.type ?? null, measured: n.natMeasured?.type ?? null, reason: n.natMeasured?.reason ?? null },
        relay: n.relay === true,
        stateDir: n.stateDir,
        socket: n.socket,
        pid: n.pid,
      })),
      impairments: (this.st.impairments ?? []).map((i) => ({ a: i.a, b: i.b, delayMs: i.delayMs, jitterMs: i.jitterMs, lossPct: i.lossPct, oneWay: i.oneWay === true })),
      stun: [...(this.st.stun ?? [])],
      sites: (this.st.sites ?? []).map((s) => ({ namespace: s.namespace, prefix: s.prefix, host: s.host, gateways: [...s.gateways] })),
    };
  }

  /** sites: the LANs behind gateways. */
  get sites(): LabSiteState[] {
    return (this.st.sites ?? []).map((s) => ({ ...s, gateways: [...s.gateways] }));
  }

  /** setAgentArgs sets a node's extra `trellis up` flags; they apply from its next start. */
  setAgentArgs(name: string, args: string[]): void {
    this.nodeState(name).agentArgs = [...args];
    this.save();
  }

  /** execInSite runs a command in a site's LAN namespace (default the first site). */
  execInSite(cmd: string, args: string[] = [], opts: { timeoutMs?: number; input?: string; site?: number } = {}): Promise<ExecResult> {
    const site = (this.st.sites ?? [])[opts.site ?? 0];
    if (!site) throw errors.lab('the lab has no site; start it with --site <node>=<cidr>');
    return execInNamespace(site.namespace, cmd, args, opts);

  }

  /**
   * measureNats asks the controller's two STUN addresses from inside each named node's namespace
   * (a few at a time) and records what the node's NAT does; labs without STUN measure nothing.
   */
  async measureNats(names: string[], onMeasured?: (n: LabNodeState) => void): Promise<void> {
    const servers = this.st.stun ?? [];
    if (servers.length < 2) return;
    await mapLimited(names, 4, async (name) => {
      const n = this.nodeState(name);
      n.natMeasured = await measureNat(n.namespace, this.st.cliPath, servers);
      this.save();
      onMeasured?.({ ...n });
    });
  }

  /**
   * impair slows and thins the direct underlay path between a and b in both directions, or a → b
   * alone with `oneWay` (lab-impairment.ts); `{ lossPct: 100 }` cuts it. A pair impaired before is
   * replaced. Bad input changes nothing; a failure half-way removes what this call made.
   */
  async impair(a: string, b: string, spec: ImpairmentSpec): Promise<LabImpairment> {
    this.reload();
    const na = this.nodeState(a);
    const nb = this.nodeState(b);
    if (a === b) throw errors.lab(`cannot impair the path from ${a} to itself; name two different nodes`);
    checkImpairment(spec);
    const f = perDirection(spec);
    const binary = f.delayUs > 0 ? delayQueueBinary(this.st.cliPath) : '';
    await this.clearImpairments(a, b);
    const imp: LabImpairment = { a, b, delayMs: spec.delayMs, jitterMs: spec.jitterMs, lossPct: spec.lossPct, oneWay: spec.oneWay === true, directions: [], createdAt: Date.now() };
    (this.st.impairments ??= []).push(imp);
    this.save();
    try {
      const directions = spec.oneWay === true ? ([[na, nb]] as const) : ([[na, nb], [nb, na]] as const);
      for (const [from, to] of directions) {
        const made: LabImpairedDirection = {
          from: from.name,
          to: to.name,
          namespace: from.namespace,
          destinations: underlaysOf(to),
          nftTable: null,
          iptablesChain: null,
          queue: null,
          pid: null,
          log: join(this.st.dir, 'logs', `impair-${from.name}-to-${to.name}.log`),
        };
        imp.directions.push(made);
        try {
          await applyDirection({ namespace: from.namespace, from: from.name, to: to.name, toIndex: to.index, destinations: made.destinations, log: made.log }, f, binary, made);
        } finally {
          this.save();
        }
      }
    } catch (err) {
      await this.clearImpairments(a, b).catch(() => undefined);
      throw err;
    }
    return JSON.parse(JSON.stringify(imp)) as LabImpairment;
  }

  /** clearImpairments removes the impairment of a–b (either order), or every one when no pair is named; returns how many. */
  async clearImpairments(a?: string, b?: string): Promise<number> {
    this.reload();
    if (a !== undefined) this.nodeState(a);
    if (b !== undefined) this.nodeState(b);
    const all = this.st.impairments ?? [];
    const hit = (i: LabImpairment) => a === undefined || (b === undefined ? i.a === a || i.b === a : (i.a === a && i.b === b) || (i.a === b && i.b === a));
    const gone = all.filter(hit);
    for (const i of gone) {
      for (const d of i.directions) await clearDirection(d);
    }
    this.st.impairments = all.filter((i) => !hit(i));
    this.save();
    return gone.length;
  }

  /**
   * setUplink pulls (up = false) or plugs back in link j (1-based) of a node, at the host's end of
   * its veth, like a cable; the node sees its carrier go and its routes over that link are ignored.
   * A node behind a lab NAT has one link, its router's.
   */
  async setUplink(name: string, link: number, up: boolean): Promise<void> {
    this.reload();
    const n = this.nodeState(name);
    const veths = n.links ? n.links.map((l) => l.veth) : [n.veth];
    if (!Number.isInteger(link) || link < 1 || link > veths.length) {
      throw errors.lab(`${name} has ${veths.length === 1 ? 'one underlay link (1)' : `underlay links 1..${veths.length}`}, not ${link}; give it more with \`lab up --uplinks ${name}=2\``);
    }
    await run('ip', ['link', 'set', veths[link - 1]!, up ? 'up' : 'down']);
  }

  /**
   * roam renumbers a node's underlay, as a laptop moving to another network: 198.18.0.<10+k> ↔
   * 198.18.1.<10+k> (behind a lab NAT the router's public address moves, which also drops the
   * NAT's mappings). The new address comes up before the old one goes, like a DHCP renewal;
   * impairments of the node follow it; its NAT is measured again. Returns the new address.
   */
  async roam(name: string): Promise<string> {
    this.reload();
    const n = this.nodeState(name);
    if (n.links) throw errors.lab(`${name} has ${n.links.length} underlay links; take one down with lab.setUplink instead of roaming`);
    const onRoamSubnet = n.underlay.startsWith(`${LAB_ROAM_SUBNET.prefix}.`);
    const next = onRoamSubnet ? LAB_SUBNET : LAB_ROAM_SUBNET;
    const to = `${next.prefix}.${10 + n.index}`;
    const ns = n.nat ? n.nat.namespace : n.namespace;
    const from = n.underlay;
    await run('ip', ['-n', ns, 'addr', 'add', `${to}/${next.bits}`, 'dev', 'eth0']);
    await run('ip', ['-n', ns, 'route', 'replace', 'default', 'via', next.gateway, 'dev', 'eth0']);
    await run('ip', ['-n', ns, 'addr', 'del', `${from}/${onRoamSubnet ? LAB_ROAM_SUBNET.bits : LAB_SUBNET.bits}`, 'dev', 'eth0']);
    n.underlay = to;
    this.save();
    if (this.st.prometheus) writeAgentTargets(this.st.prometheus, this.st.nodes);
    for (const i of (this.st.impairments ?? []).filter((x) => x.a === name || x.b === name)) {
      await this.impair(i.a, i.b, { delayMs: i.delayMs, jitterMs: i.jitterMs, lossPct: i.lossPct, oneWay: i.oneWay === true });
    }
    await this.measureNats([name]);
    return to;
  }

  /**
   * addNode starts one more node (default name n<k>) and waits until it holds a map with every peer;
   * `env` is its agent's environment over the lab's (e.g. TRELLIS_WIREGUARD_GO for another build).
   */
  async addNode(name?: string, readyTimeoutMs = 60_000, env: Record<string, string> = {}): Promise<LabNodeState> {
    this.reload();
    const k = Math.max(0, ...this.st.nodes.map((n) => n.index)) + 1;
    if (k > MAX_NODE_INDEX) throw errors.lab(`the lab is full (${MAX_NODE_INDEX} nodes)`);
    const nodeName = name ?? `n${k}`;
    if (!NODE_NAME.test(nodeName)) {
      throw errors.lab(`node name "${nodeName}" is invalid; use lower-case letters, digits and - (not at either end), up to 63 characters`);
    }
    if (this.st.nodes.some((n) => n.name === nodeName)) throw errors.lab(`node "${nodeName}" already exists`);
    await this.createNode(nodeName, k, undefined, env);
    await this.measureNats([nodeName]);
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

  /** startController (re)starts controller i (default the first) on its data dir and port, waiting for /healthz. */
  async startController(i = 0): Promise<void> {
    await startControllerProcess(this.st, this.controllerAt(i), () => this.save());
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
    await waitForAgentApi(n, timeoutMs);
  }

  /** status asks a node's agent for its AgentStatus over its unix socket. */
  status(name: string): Promise<AgentStatus> {
    return new AgentClient(this.nodeState(name).socket).status();
  }

  /** exec runs a command inside the node's namespace; a non-zero exit is a result, not an error. */
  exec(name: string, cmd: string, args: string[] = [], opts: { timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
    return execInNamespace(this.nodeState(name).namespace, cmd, args, opts);
  }

  /** adminFetch calls the controller's admin API with the lab's admin token and returns the raw answer. */
  adminFetch(path: string, init: RequestInit = {}): Promise<Response> {
    return this.admin().fetch(path, init);
  }

  /** controllerFetch sends a request to the lab's controller as any client would (no token), trusting the lab's CA. */
  controllerFetch(path: string, init: RequestInit = {}): Promise<Response> {
    return this.trustedFetch()(this.controllerUrl + path, init);
  }

  /** controllerCa is the PEM of the CA the lab's controller certificate was issued by; null for a plain-http lab. */
  controllerCa(): string | null {
    const file = this.controllerState().caFile;
    return file ? readFileSync(file, 'utf8') : null;
  }

  /** controllerCertificate is the PEM of the controller's own certificate (browsers pin its key); null for a plain-http lab. */
  controllerCertificate(): string | null {
    return this.controllerState().caFile ? readFileSync(controllerTlsFiles(this.controllerState().dataDir).cert, 'utf8') : null;
  }

  private trustedFetch(): typeof fetch {
    this.fetchFn ??= trustingFetch(this.controllerCa());
    return this.fetchFn;
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
    // With a topology, a node is ready with the peers the controller's topology gives it (hubs, direct links).
    const expected =
      this.st.topology && this.st.topology.mode !== 'full'
        ? async () => {
            const v = await this.admin().request<TopologyView>('GET', ROUTES.adminTopology);
            if (v.nodes.length < this.st.nodes.length) return null;
            return new Map(v.nodes.map((n) => [n.name, n.peers]));
          }
        : undefined;
    await waitForMesh({ nodes: this.st.nodes, names, timeoutMs, onReady, save: () => this.save(), expected });
  }

  private async createNode(name: string, k: number, plan?: LabNodePlan, env: Record<string, string> = {}): Promise<void> {
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
      nat: plan?.nat ? routerState(`${NAMESPACE_PREFIX}${name}`, k, `${VETH_PREFIX}${k}`, plan.nat) : null,
      relay: plan?.relay ?? false,
      ...(plan && plan.links > 1 ? { links: linksOf(k, `${VETH_PREFIX}${k}`, plan.links) } : {}),
      ...(Object.keys(env).length > 0 ? { env } : {}),
    };
    // Record first, so a crash half-way still leaves the namespace listed for `down`.
    this.st.nodes.push(n);
    this.save();
    const siteArgs: string[] = [];
    try {
      if (n.nat) await createNatNodeNetwork({ namespace: n.namespace, underlay: n.underlay, router: n.nat });
      else if (n.links) await createMultiLinkNodeNetwork({ namespace: n.namespace, links: n.links });
      else await createNodeNetwork(n);
      if (this.st.internet && !n.nat && !n.links) await useInternet(n.namespace);
      for (const site of this.st.sites ?? []) {
        if (!site.gateways.includes(name)) continue;
        await attachGateway(site, n.namespace, k);
        siteArgs.push(...gatewayArgs(site, name));
      }
    } catch (err) {
      await removeNamespace(n.namespace).catch(() => undefined);
      if (n.nat) await removeNamespace(n.nat.namespace).catch(() => undefined);
      for (const veth of n.links?.map((l) => l.veth) ?? [n.veth]) await run('ip', ['link', 'del', veth]).catch(() => undefined);
      throw err;
    }
    const extra = [...siteArgs, ...(this.agentArgs[name] ?? [])];
    if (extra.length > 0) {
      n.agentArgs = extra;
      this.save();
    }
    mkdirSync(n.stateDir, { recursive: true, mode: 0o700 });
    await this.spawnAgent(n);
    if (this.st.prometheus) writeAgentTargets(this.st.prometheus, this.st.nodes);
  }

  private spawnAgent(n: LabNodeState): Promise<void> {
    return spawnAgentProcess(this.st, n, { url: this.controllerUrls.join(','), caFile: this.controllerState().caFile ?? null }, () => this.save());
  }

  /**
   * admin is a controller's admin API (controller i, default the first one running) with the token
   * the first controller wrote into its data dir.
   */
  admin(i?: number): AdminClient {
    const c = i !== undefined ? this.controllerAt(i) : (this.allControllers().find((x) => isLabProcess(x.pid, this.st.cliPath)) ?? this.controllerState());
    const file = join(c.dataDir, 'admin.token');
    let token: string;
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw errors.lab(`cannot read the controller's admin token ${file}: ${(err as Error).message}`);
    }
    return new AdminClient(c.url, token, this.trustedFetch());
  }

  private allControllers(): LabControllerState[] {
    return [this.controllerState(), ...(this.st.moreControllers ?? [])];
  }

  private controllerAt(i: number): LabControllerState {
    const c = this.allControllers()[i];
    if (!c) throw errors.lab(`the lab has no controller ${i} (it has ${this.allControllers().length})`);
    return c;
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
