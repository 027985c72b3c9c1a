/**
 * agent: the node runtime behind `trellis up`. It enrolls once, keeps its identity and last map
 * on disk, follows the controller's map stream, and drives one WireGuard device through a single
 * serialized reconfiguration loop. The controller being away never tears tunnels down.
 */
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Facts, PeerProbeStats, PostureDecision } from '../api/hooks';
import type { AgentAccess } from '../api/plugin';
import { ed25519PrivateKey } from '../auth/keys';
import { errors } from '../errors';
import { createLogger } from '../log/logger';
import type { NetworkMap, NetworkMapData } from '../netmap/types';
import { noHooks, type HookRunner } from '../plugins/hook-runner';
import type { loadPluginHost as LoadPluginHost } from '../plugins/plugin-host';
import * as wgLink from '../wg/link';
import type { WgDevice, WgPeerStats } from '../wg/types';
import { UapiDevice } from '../wg/uapi-device';
import { resolveWireguardGo } from '../wg/wireguard-go';
import type { AgentLink } from './agent-link';
import { Backoff, sleep, type BackoffOptions } from './backoff';
import { ControllerClient, isRefusal } from './controller-client';
import { loadOrCreateIdentity, newIdentity, saveIdentity, type NodeIdentity } from './identity';
import { agentSocketPath, LocalApi } from './local-api';
import { MapCache } from './map-cache';
import { MapSession } from './map-session';
import { resolvePrefs, type Prefs } from './prefs';
import { PacketFilter, type NftRunner } from './packet-filter';
import type { ProbeRunner, ProbeRunnerFactory } from './probe-runner';
import { ProbeScheduler, type ProbeSample } from './probes/probe-scheduler';
import { AgentTelemetry, resolveTelemetryOptions, type TelemetryOptions } from './telemetry/agent-telemetry';
import { loadRuntimeConfig } from '../config/runtime-config';
import { AgentMetrics } from '../metrics/agent-metrics';
import { TrellisMetrics } from '../metrics/trellis-metrics';
import { Reconfigurer, type MapSource } from './reconfigurer';
import type { AgentStatus, PeerStatus } from '../wire';
import type { AgentHandle, AgentOptions } from './types';

export type { AgentHandle };

export const DEFAULT_LISTEN_PORT = 51820;
export const DEFAULT_PROBE_PORT = 51999;
export const DEFAULT_PROBE_INTERVAL_MS = 1000;

/** How often the agent looks at things that may change under it, ms. */
export interface AgentIntervals {
  /** Underlay endpoint check. Default 10 000. */
  endpointsMs: number;
  /** Facts collection and posture evaluation. Default 30 000. */
  factsMs: number;
  /** onPeerStats samples (only when a plugin has the hook). Default 5 000. */
  peerStatsMs: number;
}

const DEFAULT_INTERVALS: AgentIntervals = { endpointsMs: 10_000, factsMs: 30_000, peerStatsMs: 5_000 };

export interface StartAgentOptions extends AgentOptions {
  hooks?: HookRunner;
  log?: Logger;
  device?: WgDevice;
  prefs?: Partial<Prefs>;
  /** Host network operations; default wg/link.ts. */
  link?: AgentLink;
  /** Makes the probe runner; default a ProbeScheduler. */
  probes?: ProbeRunnerFactory;
  fetch?: typeof fetch;
  intervals?: Partial<AgentIntervals>;
  /** Backoff for enrollment and the map stream; default 250 ms → 30 s. */
  backoff?: BackoffOptions;
  /** Aborts a startup still waiting for an unreachable controller to enroll. */
  signal?: AbortSignal;
  /** Telemetry delivery; overrides `agent.settings.telemetry` of the config file. */
  telemetry?: Partial<TelemetryOptions>;
  /** Metrics cardinality; overrides `agent.settings.metrics` of the config file. */
  metrics?: { maxPeerSeries?: number };
  /** Runs nft scripts for the packet filter; default `nft -f -` in the agent's namespace. */
  nft?: NftRunner;
}

const defaultLink: AgentLink = {
  setLinkUp: (iface, mtu) => wgLink.setLinkUp(iface, mtu),
  syncAddresses: (iface, cidrs) => wgLink.syncAddresses(iface, cidrs),
  syncRoutes: (iface, prefixes) => wgLink.syncRoutes(iface, prefixes),
  listUnderlayAddresses: (exclude) => wgLink.listUnderlayAddresses(exclude),
};

const defaultProbes: ProbeRunnerFactory = (cfg) => new ProbeScheduler(cfg);

/**
 * startAgent brings the node into the mesh and resolves once the device is up and (from the
 * enrollment answer or the cache) the last known map is applied. It rejects when enrollment is
 * refused (the controller's message says why) or the device cannot be created.
 */
export async function startAgent(opts: StartAgentOptions): Promise<AgentHandle> {
  const log = opts.log ?? createLogger('agent');
  const prefs = resolvePrefs(opts.prefs);
  const link = opts.link ?? defaultLink;
  const intervals: AgentIntervals = { ...DEFAULT_INTERVALS, ...opts.intervals };
  const listenPort = opts.listenPort ?? DEFAULT_LISTEN_PORT;
  const iface = opts.iface;

  await fs.mkdir(opts.stateDir, { recursive: true, mode: 0o700 });
  let identity = await loadOrCreateIdentity(opts.stateDir, opts.name, opts.controllerUrl);
  const client = new ControllerClient({ url: opts.controllerUrl, fetch: opts.fetch });

  const discoverEndpoints = async (): Promise<string[]> => {
    if (opts.endpoints) return [...opts.endpoints];
    const addrs = await link.listUnderlayAddresses([iface]);
    return addrs.map((a) => a.split('/')[0]).map((a) => (a.includes(':') ? `[${a}]:${listenPort}` : `${a}:${listenPort}`));
  };

  let enrollMap: NetworkMapData | null = null;
  if (identity.nodeId === null) {
    if (!opts.authKey) {
      throw errors.usage(`node "${identity.name}" is not enrolled yet; pass an auth key (--auth-key) to join ${opts.controllerUrl}`);
    }
    const enrolled = await enroll(client, identity, opts.authKey, await discoverEndpoints().catch(() => []), log, opts);
    identity = {
      ...identity,
      nodeId: enrolled.nodeId,
      name: enrolled.name,
      addresses: enrolled.addresses,
      enrolledAt: Date.now(),
    };
    await saveIdentity(opts.stateDir, identity);
    enrollMap = enrolled.map;
    log.info({ nodeId: identity.nodeId, name: identity.name, addresses: identity.addresses }, 'enrolled');
  }
  const nodeId = identity.nodeId as string;
  client.setIdentity(nodeId, ed25519PrivateKey(identity.identity));

  const factsRefresh = { fn: (): void => undefined };
  const access: AgentAccess = {
    nodeName: identity.name,
    iface,
    stateDir: opts.stateDir,
    requestFactsRefresh: () => factsRefresh.fn(),
    wgKeyCreatedAt: identity.wgKeyCreatedAt ?? null,
    fetchFromController: (path) => client.getRaw(path),
  };
  let ownHost: { shutdown(): Promise<void> } | null = null;
  const settings = opts.configFile ? loadRuntimeConfig(opts.configFile).agent.settings : {};
  let telemetryOptions: TelemetryOptions;
  try {
    telemetryOptions = { ...resolveTelemetryOptions(settings.telemetry), ...opts.telemetry };
  } catch (err) {
    throw errors.configInvalid(opts.configFile ?? 'telemetry options', (err as Error).message);
  }
  const maxPeerSeries = opts.metrics?.maxPeerSeries ?? (settings.metrics as { maxPeerSeries?: unknown } | undefined)?.maxPeerSeries;
  if (maxPeerSeries !== undefined && !(typeof maxPeerSeries === 'number' && Number.isInteger(maxPeerSeries) && maxPeerSeries >= 0)) {
    throw errors.configInvalid(opts.configFile ?? 'metrics options', `agent.settings.metrics.maxPeerSeries must be a non-negative integer, got ${JSON.stringify(maxPeerSeries)}`);
  }
  const metrics = new TrellisMetrics('agent');
  let hooks: HookRunner;
  if (opts.hooks) hooks = opts.hooks;
  else if (opts.configFile) {
    // Loaded only when a config names plugins: it pulls in Ajv, YAML and semver, which cost a
    // noticeable part of `trellis up`'s start-up (and so of join time) on small machines.
    const { loadPluginHost } = require('../plugins/plugin-host') as { loadPluginHost: typeof LoadPluginHost };
    const host = await loadPluginHost({ side: 'agent', configFile: opts.configFile, log, agent: access, metrics: { collect: () => metrics.collect() } });
    ownHost = host;
    hooks = host;
  } else hooks = noHooks;

  const device = opts.device ?? new UapiDevice({ name: iface, wireguardGo: resolveWireguardGo(opts.wireguardGo), log });
  const runtime = new AgentRuntime({
    opts,
    log,
    prefs,
    link,
    intervals,
    listenPort,
    identity,
    client,
    hooks,
    device,
    ownHost,
    discoverEndpoints,
    telemetryOptions,
    metrics,
    maxPeerSeries: maxPeerSeries as number | undefined,
  });
  factsRefresh.fn = () => runtime.refreshFacts();
  try {
    await runtime.start(enrollMap);
  } catch (err) {
    await runtime.stop();
    throw err;
  }
  return {
    status: () => runtime.status(),
    stop: () => runtime.stop(),
    done: runtime.done,
  };
}

async function enroll(
  client: ControllerClient,
  identity: NodeIdentity,
  authKey: string,
  endpoints: string[],
  log: Logger,
  opts: StartAgentOptions,
) {
  const backoff = new Backoff(opts.backoff);
  for (;;) {
    try {
      return await client.enroll({
        authKey,
        name: identity.name,
        hostname: hostname(),
        wgKey: identity.wg.publicKey,
        identityKey: identity.identity.publicKey,
        endpoints,
      });
    } catch (err) {
      if (isRefusal(err)) throw err;
      const delay = backoff.next();
      log.warn({ err: (err as Error).message, retryInMs: delay }, 'enrollment failed; retrying');
      await sleep(delay, opts.signal);
      if (opts.signal?.aborted) throw errors.controllerUnreachable(opts.controllerUrl, 'startup was cancelled while enrolling');
    }
  }
}

interface RuntimeDeps {
  opts: StartAgentOptions;
  log: Logger;
  prefs: Prefs;
  link: AgentLink;
  intervals: AgentIntervals;
  listenPort: number;
  identity: NodeIdentity;
  client: ControllerClient;
  hooks: HookRunner;
  device: WgDevice;
  ownHost: { shutdown(): Promise<void> } | null;
  discoverEndpoints: () => Promise<string[]>;
  telemetryOptions: TelemetryOptions;
  metrics: TrellisMetrics;
  maxPeerSeries: number | undefined;
}

/** AgentRuntime owns the running pieces of one started agent and tears them down in order. */
class AgentRuntime {
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private readonly reconf: Reconfigurer;
  private readonly session: MapSession;
  private readonly api: LocalApi;
  private readonly packetFilter: PacketFilter;
  private readonly telemetry: AgentTelemetry;
  private readonly agentMetrics: AgentMetrics;
  private peerNames: { nameById: Map<string, string>; nameByKey: Map<string, string> } = { nameById: new Map(), nameByKey: new Map() };
  private probes: ProbeRunner | null = null;
  private probesBoundTo: string | null = null;
  private applied: { map: NetworkMap; source: MapSource; at: number } | null = null;
  private posture: PostureDecision | null = null;
  private postedFactsKey: string | null = null;
  private factsRun: Promise<void> | null = null;
  private factsAgain = false;
  private reportedEndpoints: string | null = null;
  private endpointsRun: Promise<void> | null = null;
  private timers: NodeJS.Timeout[] = [];
  private deviceUp = false;
  private apiUp = false;
  private stopping: Promise<void> | null = null;

  constructor(private readonly d: RuntimeDeps) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.packetFilter = new PacketFilter({ iface: d.opts.iface, probePort: d.opts.probePort ?? DEFAULT_PROBE_PORT, log: d.log, nft: d.opts.nft });
    this.reconf = new Reconfigurer({
      packetFilter: this.packetFilter,
      device: d.device,
      hooks: d.hooks,
      link: d.link,
      privateKey: d.identity.wg.privateKey,
      listenPort: d.listenPort,
      prefs: d.prefs,
      log: d.log,
      probes: () => this.probes,
      onApplied: (info) => {
        this.applied = { map: info.map, source: info.source, at: info.at };
        this.notePeers(info.map);
        void this.ensureProbes(info.map);
      },
    });
    this.telemetry = new AgentTelemetry({
      stateDir: d.opts.stateDir,
      nodeName: () => this.applied?.map.self.name ?? d.identity.name,
      peers: () => this.peerNames,
      wgStats: () => (this.deviceUp ? d.device.stats() : Promise.resolve([])),
      post: (batch) => d.client.postTelemetry(batch),
      hooks: d.hooks,
      log: d.log,
      options: d.telemetryOptions,
    });
    this.agentMetrics = new AgentMetrics(d.metrics.meter('trellis.agent'), () => this.metricsSnapshot(), { maxPeerSeries: d.maxPeerSeries });
    this.session = new MapSession({
      client: d.client,
      cache: new MapCache(d.opts.stateDir),
      log: d.log,
      backoff: d.opts.backoff,
      onMap: (map) => void this.reconf.schedule(map, 'controller'),
      onRevoked: (err) => this.onRevoked(err.message),
      onConnection: (connected, lastError) => {
        if (connected) {
          d.log.info('connected to the controller');
          // A reconnect may follow a controller restart that lost our endpoints: report again.
          this.reportedEndpoints = null;
          void this.reportEndpoints();
        } else if (lastError) d.log.warn({ lastError }, 'disconnected from the controller');
      },
    });
    this.api = new LocalApi({
      socketPath: agentSocketPath(d.opts.stateDir),
      status: () => this.status(),
      onDown: () => void this.stop(),
      log: d.log,
    });
  }

  async start(enrollMap: NetworkMapData | null): Promise<void> {
    const { device, link, prefs, log } = this.d;
    await device.up();
    this.deviceUp = true;
    await link.setLinkUp(device.name, prefs.mtu);
    if (enrollMap) {
      await this.session.seed(enrollMap);
    } else {
      const cached = await this.session.loadCache();
      if (cached) {
        log.info({ version: cached.version, peers: cached.peers.length }, 'restoring the mesh from the cached map');
        void this.reconf.schedule(cached, 'cache');
      }
    }
    await this.reconf.idle();
    await this.api.listen();
    this.apiUp = true;
    this.session.start();
    this.telemetry.start();
    void this.reportEndpoints();
    void this.refreshFacts();
    const { endpointsMs, factsMs, peerStatsMs } = this.d.intervals;
    this.timers.push(setInterval(() => void this.reportEndpoints(), endpointsMs));
    this.timers.push(setInterval(() => this.refreshFacts(), factsMs));
    if (this.d.hooks.has('onPeerStats')) this.timers.push(setInterval(() => void this.emitPeerStats(), peerStatsMs));
    for (const t of this.timers) t.unref();
  }

  /** ensureProbes (re)starts the probe runner bound to this node's overlay IPv4, once it is assigned. */
  private async ensureProbes(map: NetworkMap): Promise<void> {
    if (this.stopping) return;
    const addr = map.self.addresses.ipv4.split('/')[0];
    if (this.probesBoundTo === addr) return;
    const old = this.probes;
    this.probes = null;
    this.probesBoundTo = addr;
    if (old) await Promise.resolve(old.stop()).catch(() => undefined);
    const { opts, log } = this.d;
    try {
      const toTelemetry = await this.telemetry.probeSink();
      const onSample = (s: ProbeSample): void => {
        toTelemetry(s);
        const name = this.peerNames.nameById.get(s.peerId);
        if (name !== undefined) this.agentMetrics.recordProbe(name, s.rttUs);
      };
      const runner = (opts.probes ?? defaultProbes)({
        bindAddress: addr,
        port: opts.probePort ?? DEFAULT_PROBE_PORT,
        intervalMs: opts.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS,
        nodeId: map.self.id,
        onSample,
      });
      await runner.start();
      if (this.stopping) {
        await runner.stop();
        return;
      }
      this.probes = runner;
      const current = this.applied?.map ?? map;
      runner.setPeers(current.peers.filter((p) => p.id !== current.self.id).map((p) => ({ id: p.id, name: p.name, address: p.addresses.ipv4.split('/')[0] })));
    } catch (err) {
      this.probesBoundTo = null;
      log.warn({ err: (err as Error).message }, 'overlay probes could not start; the mesh runs without them');
    }
  }

  /** notePeers keeps the id/key → name lookups telemetry and metrics label rows with. */
  private notePeers(map: NetworkMap): void {
    const peers = map.peers.filter((p) => p.id !== map.self.id);
    this.peerNames = { nameById: new Map(peers.map((p) => [p.id, p.name])), nameByKey: new Map(peers.map((p) => [p.wgKey, p.name])) };
    this.agentMetrics.setPeerCount(peers.length);
    if (typeof this.reconf.lastDurationMs === 'number') this.agentMetrics.recordApply(this.reconf.lastDurationMs);
  }

  /** metricsSnapshot is what a metrics collection observes: per-peer WireGuard and probe figures. */
  private async metricsSnapshot(): Promise<import('../metrics/agent-metrics').AgentMetricsSnapshot> {
    const map = this.applied?.map ?? null;
    const wg = this.deviceUp ? await this.d.device.stats().catch(() => [] as WgPeerStats[]) : [];
    const byKey = new Map(wg.map((s) => [s.publicKey, s]));
    let probes: PeerProbeStats[] = [];
    try {
      probes = this.probes?.stats() ?? [];
    } catch {
      probes = [];
    }
    const byId = new Map(probes.map((p) => [p.peerId, p]));
    const now = Date.now();
    const peers = (map?.peers ?? [])
      .filter((p) => p.id !== map?.self.id)
      .map((p) => {
        const s = byKey.get(p.wgKey);
        const pr = byId.get(p.id);
        const age = s?.lastHandshake != null ? Math.max(0, (now - s.lastHandshake) / 1000) : null;
        return { name: p.name, loss: pr?.loss ?? 0, jitterUs: pr?.jitterUs ?? 0, rxBytes: s?.rxBytes ?? 0, txBytes: s?.txBytes ?? 0, handshakeAgeS: age, up: age !== null && age < 180 };
      });
    return { peers, netmapVersion: map?.version ?? 0, compliant: this.posture === null ? null : this.posture.compliant };
  }

  private async onRevoked(message: string): Promise<void> {
    const { opts, log, identity } = this.d;
    await this.reconf.clearPeers();
    this.applied = null;
    await Promise.resolve(this.probes?.setPeers([]));
    // The revoked node id and keys are dead: the next `trellis up --auth-key` enrolls a new node.
    await saveIdentity(opts.stateDir, newIdentity(identity.name, opts.controllerUrl)).catch((err) =>
      log.error({ err }, 'could not reset identity.json after revocation'),
    );
    log.error(`${message}; the tunnels were removed. Run \`trellis up\` again with a new auth key.`);
  }

  async reportEndpoints(): Promise<void> {
    if (this.endpointsRun || this.stopping || this.session.revoked) return;
    this.endpointsRun = (async () => {
      try {
        const eps = await this.d.discoverEndpoints();
        const key = JSON.stringify(eps);
        if (key === this.reportedEndpoints) return;
        await this.d.client.postEndpoints(eps);
        this.reportedEndpoints = key;
        this.d.log.info({ endpoints: eps }, 'reported endpoints');
      } catch (err) {
        this.d.log.warn({ err: (err as Error).message }, 'could not report endpoints; will retry');
      }
    })().finally(() => (this.endpointsRun = null));
    await this.endpointsRun;
  }

  /** refreshFacts collects facts and posture now; a call during a run makes one more run after it. */
  refreshFacts(): void {
    if (this.stopping) return;
    if (this.factsRun) {
      this.factsAgain = true;
      return;
    }
    this.factsRun = (async () => {
      do {
        this.factsAgain = false;
        await this.collectAndPostFacts();
      } while (this.factsAgain && !this.stopping);
    })().finally(() => (this.factsRun = null));
  }

  private async collectAndPostFacts(): Promise<void> {
    const { hooks, client, log } = this.d;
    let facts: Facts = {};
    try {
      const results = await hooks.runParallel('collectFacts');
      for (const r of results) if (r && typeof r === 'object') facts = { ...facts, ...r };
      this.posture = await hooks.runFirst('evaluatePosture', facts);
    } catch (err) {
      log.error({ err }, 'collecting facts failed');
      return;
    }
    const key = stableJson({ facts, posture: this.posture });
    if (key === this.postedFactsKey || this.session.revoked) return;
    try {
      // The wire carries the PostureDecision contract only; extras (a plugin's per-check map) stay local.
      const p = this.posture;
      const posture = p ? { compliant: p.compliant, reasons: p.reasons, ...(p.policyVersion !== undefined ? { policyVersion: p.policyVersion } : {}) } : null;
      await client.postFacts({ facts, posture });
      this.postedFactsKey = key;
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not report facts; will retry');
    }
  }

  private async emitPeerStats(): Promise<void> {
    try {
      const [wg, probes] = await Promise.all([this.d.device.stats(), Promise.resolve(this.probes?.stats() ?? [])]);
      await this.d.hooks.runParallel('onPeerStats', { at: Date.now(), wg, probes });
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message }, 'could not sample peer stats');
    }
  }

  async status(): Promise<AgentStatus> {
    const { identity, opts, device, listenPort } = this.d;
    let wg: WgPeerStats[] = [];
    if (this.deviceUp) wg = await device.stats().catch(() => []);
    const byKey = new Map(wg.map((s) => [s.publicKey, s]));
    const probeStats: PeerProbeStats[] = (() => {
      try {
        return this.probes?.stats() ?? [];
      } catch {
        return [];
      }
    })();
    const byId = new Map(probeStats.map((p) => [p.peerId, p]));
    const map = this.applied?.map ?? null;
    const peers: PeerStatus[] = (map?.peers ?? [])
      .filter((p) => p.id !== map?.self.id)
      .map((p) => {
        const s = byKey.get(p.wgKey);
        return {
          id: p.id,
          name: p.name,
          wgKey: p.wgKey,
          addresses: { ...p.addresses },
          endpoint: s?.endpoint ?? (p.endpoints.length > 0 ? p.endpoints[0] : null),
          allowedIps: s ? [...s.allowedIps] : [...p.allowedIps],
          lastHandshake: s?.lastHandshake ?? null,
          rxBytes: s?.rxBytes ?? 0,
          txBytes: s?.txBytes ?? 0,
          probe: byId.get(p.id) ?? null,
        };
      });
    const addresses = map ? { ...map.self.addresses } : identity.addresses;
    return {
      node: { id: identity.nodeId, name: identity.name, iface: opts.iface, addresses, wgKey: identity.wg.publicKey, listenPort },
      controller: { url: opts.controllerUrl, connected: this.session.connected, lastError: this.session.lastError ?? this.reconf.lastError },
      map: {
        version: map?.version ?? 0,
        epoch: map?.epoch ?? null,
        source: this.applied?.source ?? 'none',
        appliedAt: this.applied?.at ?? null,
        lastApplyMs: this.reconf.lastDurationMs,
      },
      peers,
      posture: this.posture,
      extensions: await this.statusSections(),
    };
  }

  /** statusSections gathers each plugin's statusSection, keyed by plugin name; a failing one is left out. */
  private async statusSections(): Promise<Record<string, unknown>> {
    try {
      const named = await this.d.hooks.runParallelNamed('statusSection');
      return Object.fromEntries(Object.entries(named).filter(([, v]) => v !== undefined && v !== null));
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message }, 'could not collect plugin status sections');
      return {};
    }
  }

  stop(): Promise<void> {
    if (!this.stopping) this.stopping = this.teardown();
    return this.stopping;
  }

  private async teardown(): Promise<void> {
    const { log, device, ownHost } = this.d;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const step = async (what: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (err) {
        log.error({ err }, `stopping: ${what} failed`);
      }
    };
    await step('map session', () => this.session.stop());
    await step('reconfiguration', () => this.reconf.idle());
    await step('pending reports', () => Promise.all([this.factsRun, this.endpointsRun]));
    await step('telemetry', () => this.telemetry.stop());
    await step('probes', () => this.probes?.stop());
    await step('packet filter', () => this.packetFilter.stop());
    this.probes = null;
    if (this.deviceUp) await step('device', () => device.down());
    this.deviceUp = false;
    if (this.apiUp) await step('local API', () => this.api.close());
    this.apiUp = false;
    if (ownHost) await step('plugins', () => ownHost.shutdown());
    await step('metrics', () => this.d.metrics.shutdown());
    log.info('agent stopped');
    this.resolveDone();
  }
}

/** stableJson serializes with sorted object keys, so equal facts always compare equal. */
function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) =>
    val && typeof val === 'object' && !Array.isArray(val)
      ? Object.fromEntries(Object.entries(val as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : val,
  );
}
