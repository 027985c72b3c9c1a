/**
 * controller: the coordination server behind `trellis controller`. It enrolls nodes with auth keys,
 * allocates overlay addresses, authenticates signed node requests, builds one NetworkMap per node
 * and streams deltas over SSE, and serves the admin API. State lives in a Store (SQLite by default).
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { ControllerAccess } from '../api/plugin';
import type { TelemetryBatch } from '../api/telemetry';
import { errors } from '../errors';
import { createLogger, type Logger } from '../log/logger';
import { noHooks, type HookRunner } from '../plugins/hook-runner';
import { loadPluginHost, type PluginHost } from '../plugins/plugin-host';
import { openControllerStore } from './controller-store';
import type { AuditEntry, Store } from '../store/store';
import { mkdirSync } from 'node:fs';
import { loadOrCreateSigningKey } from '../auth/controller-signing-key';
import { loadControllerTls } from '../auth/controller-tls';
import { isLoopbackHost } from '../auth/controller-trust';
import { TrustMetrics } from '../metrics/trust-metrics';
import { StunMetrics } from '../metrics/stun-metrics';
import { coreVersion } from '../metrics/trellis-metrics';
import { StunService } from './stun-service';
import { installAbuseLimits, rateLimited } from './abuse-limits';
import { registerAdminRoutes } from './admin-routes';
import { AuditExport } from './audit-export';
import { installOpenApi, registerOpenApiRoute } from './openapi';
import { AuditFileSink } from './audit-file-sink';
import { AuthFailureLog } from './auth-failure-log';
import { registerConnectionEventsRoute } from './connection-events-route';
import { StreamCap } from './stream-cap';
import { DEFAULT_TRUST_SETTINGS, parseTrustSettings, withOverride, type TrustSettingsOverride } from './trust-settings';
import { AdminGuard, ensureAdminToken } from './admin-token';
import type { ControllerServices, ControllerTrust } from './controller-services';
import { registerEnrollRoute } from './enroll-route';
import { createHttpApp } from './http-app';
import { MapBuilder } from './map-builder';
import { registerMapStreamRoute } from './map-stream-route';
import { MapStreamer, type MapStreamerStats } from './map-streamer';
import { NodeAuthenticator } from './node-auth';
import { registerNodeKeyRoutes } from './node-key-routes';
import { NodeKeys } from './node-keys';
import { parseKeyPolicy } from './key-policy';
import { KeyMetrics } from '../metrics/key-metrics';
import { installSignedRoutes, registerNodeRoutes } from './node-routes';
import { LiveTelemetry } from './live-telemetry';
import { registerTelemetryRoute } from './telemetry-route';
import { ControllerMetrics } from '../metrics/controller-metrics';
import { SharedStoreMetrics } from '../metrics/shared-store-metrics';
import { loadRuntimeConfig } from '../config/runtime-config';
import { registerWebConsole, type WebConsole } from './console/web-console';
import { PluginAdminRoutes } from './plugin-admin-routes';
import { PluginSources } from './plugin-sources';
import { alertsRoute } from './live-alerts';
import { TrellisMetrics } from '../metrics/trellis-metrics';
import { PolicyLibrary } from './policy-library';
import { registerPolicyNodeRoutes } from './policy-routes';
import { PostureDecider } from './posture-decider';
import { applyRequireApproval } from './settings';
import { Presence } from './presence';
import { SharedPresence } from './shared-presence';
import { StoreChangeRelay, type StoreChangeRelayStats } from './store-change-relay';
import { RouteTable } from './route-table';
import { readConfigTopology, TopologySettings } from './topology-settings';
import { parseTopology } from './topology';
import { TopologyMetrics } from '../metrics/topology-metrics';
import { topologyFigures } from './topology-view';
import { RouteMetrics } from '../metrics/route-metrics';
import { AUDIT_CHECKPOINT_ACTION, ROUTES } from '../wire';
import type { ControllerHandle, ControllerOptions } from './types';

export interface StartControllerOptions extends ControllerOptions {
  /** Plugins' hooks; when absent, loaded from configFile, else none. */
  hooks?: HookRunner;
  log?: Logger;
  /** Admin token to use instead of <dataDir>/admin.token or a generated one (written to that file). */
  adminToken?: string;
  /** Clock, for tests of expiry and staleness. Default Date.now. */
  clock?: () => number;
  /** Interval of SSE pings, ms. Default 15000. */
  pingIntervalMs?: number;
  /** Key settings as `controller.settings` holds them (keyRotation, keyExpiry, identityLifetime); default: the config file's. */
  keySettings?: Record<string, unknown>;
  /** Abuse limits, audit export and key lifetime over those of the config file (tests, embedders). */
  trust?: TrustSettingsOverride;
}

/** RunningController is the handle plus what embedders and tests inspect. */
export interface RunningController extends ControllerHandle {
  app: FastifyInstance;
  store: Store;
  streamer: MapStreamer;
  keys: NodeKeys;
  /** The controller's metrics, as a /metrics scrape collects them. */
  metrics: TrellisMetrics;
  /** Rebuild count, live node count, open streams and epoch. */
  stats(): MapStreamerStats;
  /** The settings in force, the failure log and the signing key. */
  trust: ControllerTrust;
  /** The STUN binding service (`--stun`), or null without one. */
  stun: StunService | null;
  /** This controller's id among those sharing the store (PostgreSQL), else null. */
  controllerId: string | null;
  /** The change feed from other controllers sharing the store, or null (SQLite). */
  sharedStats(): StoreChangeRelayStats | null;
  /** Every route served, with its schemas (the OpenAPI check compares them with the document). */
  routes: readonly RouteInfo[];
}

/** RouteInfo is one served method and path with the JSON schemas it validates. */
export interface RouteInfo {
  method: string;
  url: string;
  schema: { body?: Record<string, unknown>; querystring?: Record<string, unknown>; params?: Record<string, unknown> } | null;
}

const NONCE_PURGE_MS = 60_000;

/** parseListen splits host:port ([v6]:port for IPv6); port 0 means "any free port". */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(listen) ?? /^([^:[\]]+):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw errors.configInvalid('listen', `"${listen}" is not host:port or [ipv6]:port (e.g. 127.0.0.1:8080)`);
  return { host: m[1], port };
}

/** urlFor is the base URL clients use: a wildcard bind is reached over loopback. */
function urlFor(host: string, port: number, tls: boolean): string {
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const scheme = tls ? 'https' : 'http';
  return h.includes(':') ? `${scheme}://[${h}]:${port}` : `${scheme}://${h}:${port}`;
}

/**
 * startController opens the store in opts.dataDir, settles the admin token, loads plugins, builds
 * the first maps, and listens on opts.listen. It resolves once the server accepts connections.
 */
export async function startController(opts: StartControllerOptions): Promise<RunningController> {
  const log = opts.log ?? createLogger('trellis-controller');
  const clock = opts.clock ?? Date.now;
  const { host, port } = parseListen(opts.listen);
  const stunListen = (opts.stun ?? []).map((l) => {
    try {
      return parseListen(l);
    } catch {
      throw errors.configInvalid('--stun', `"${l}" is not host:port or [ipv6]:port (e.g. 0.0.0.0:3478)`);
    }
  });
  // Checked before anything is opened or written: a bad setting refuses to start, naming the path.
  const runtimeConfig = opts.configFile ? loadRuntimeConfig(opts.configFile) : null;
  const keyPolicy = parseKeyPolicy(opts.keySettings ?? runtimeConfig?.controller.settings ?? {}, opts.configFile ?? 'keySettings');
  const settings = withOverride(
    runtimeConfig ? parseTrustSettings(runtimeConfig.controller.settings, opts.configFile!, runtimeConfig.baseDir) : DEFAULT_TRUST_SETTINGS,
    opts.trust,
  );
  const configTopology = opts.topology !== undefined ? parseTopology(opts.topology, 'topology option') : (runtimeConfig ? readConfigTopology(runtimeConfig.controller.settings, opts.configFile!) : undefined);
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  // TLS whenever `controller init` made a certificate; plain http only on loopback or when asked for.
  const tls = loadControllerTls(opts.dataDir);
  if (!tls && !isLoopbackHost(host) && !opts.insecure) throw errors.plainHttpRefused(opts.listen, opts.dataDir);
  if (!tls && !isLoopbackHost(host)) log.warn({ listen: opts.listen }, 'serving plain http on a non-loopback address (--insecure): auth keys and maps travel in the clear');
  const signingKey = loadOrCreateSigningKey(opts.dataDir);
  const store = await openControllerStore({
    store: opts.store,
    dataDir: opts.dataDir,
    ipv4Cidr: opts.ipv4Cidr,
    ipv6Prefix: opts.ipv6Prefix,
    auditSigner: signingKey,
    auditCheckpointEvery: settings.audit.checkpointEvery,
  });
  let pluginHost: PluginHost | null = null;
  let streamer: MapStreamer | null = null;
  let app: FastifyInstance | null = null;
  let purgeTimer: NodeJS.Timeout | null = null;
  let metricsRt: TrellisMetrics | null = null;
  let webConsole: WebConsole | null = null;
  let keys: NodeKeys | null = null;
  let checkpointTimer: NodeJS.Timeout | null = null;
  const routes: RouteInfo[] = [];
  let auditExport: AuditExport | null = null;
  let trustMetrics: TrustMetrics | null = null;
  let stun: StunService | null = null;
  let shared: SharedPresence | null = null;
  let relay: StoreChangeRelay | null = null;

  const audit = async (entry: AuditEntry) => {
    try {
      await store.appendAudit({ at: clock(), ...entry });
    } catch (err) {
      log.error({ err, action: entry.action }, 'could not append to the audit log');
    }
  };

  const failures = new AuthFailureLog({
    audit,
    clock,
    windowMs: settings.limits.authFailureWindowMs,
    auditPerWindow: settings.limits.auditFailuresPerWindow,
    blockAfter: settings.limits.authFailuresPerWindow,
    onFailure: (route, code) => trustMetrics?.recordFailure(route, code),
    onRateLimited: (route) => trustMetrics?.recordRateLimited(route),
  });
  const trust: ControllerTrust = { settings, failures, streams: new StreamCap(settings.limits.streamsPerNode), signingKey };

  try {
    const admin = await ensureAdminToken(store, opts.dataDir, opts.adminToken);
    const requireApproval = await applyRequireApproval(store, opts.requireApproval, clock());
    const topology = await TopologySettings.open(store, configTopology, clock(), log);
    const presence = new Presence();
    let posture: PostureDecider | null = null;
    const policies = await PolicyLibrary.open({
      store,
      dataDir: opts.dataDir,
      log,
      clock,
      onChange: (reason) => {
        streamer?.meshChanged(reason);
        // Stored decisions were made with the old version: decide again with the new one.
        void posture?.reevaluateAll(reason).catch((err: unknown) => log.error({ err }, 'posture re-evaluation failed'));
      },
    });
    const pluginRoutes = new PluginAdminRoutes();
    const pluginSources = new PluginSources();
    const access: ControllerAccess = {
      dataDir: opts.dataDir,
      registerAdminRoute: (path, handler) => pluginRoutes.register(path, handler),
      registerPathHistory: (source) => pluginSources.registerPathHistory(source),
      registerAlerts: (source) => {
        pluginSources.registerAlerts(source);
        pluginRoutes.register(ROUTES.adminAlerts, alertsRoute(source));
      },
      requestMapRebuild: (reason) => streamer?.meshChanged(`plugin: ${reason}`),
      audit: (ev) => void audit({ action: ev.action, actor: ev.actor, target: ev.target ?? null, details: ev.details }),
      policy: policies,
    };
    let hooks: HookRunner = opts.hooks ?? noHooks;
    metricsRt = new TrellisMetrics('controller');
    const trellisMetrics = metricsRt;
    // Made before the first build, so the startup build is recorded too.
    const controllerMetrics = new ControllerMetrics(trellisMetrics.meter('trellis.controller'), async () => {
      const st = streamer?.stats() ?? { nodes: 0, streams: 0, rebuilds: 0 };
      const nodes = await store.listNodes();
      return { nodes: st.nodes, nodesOnline: nodes.filter((n) => presence.isOnline(n.id)).length, streamClients: st.streams, rebuilds: st.rebuilds };
    });
    if (!opts.hooks && opts.configFile) {
      pluginHost = await loadPluginHost({ side: 'controller', configFile: opts.configFile, log, controller: access, metrics: { collect: () => trellisMetrics.collect() } });
      hooks = pluginHost;
    }
    const routeTable = new RouteTable({
      store,
      hooks,
      log,
      clock,
      isOnline: (nodeId) => presence.isOnline(nodeId),
      nodeInfo: (nodeId) => streamer?.nodeInfo(nodeId) ?? null,
      changed: (reason, full) => (full ? streamer?.meshChanged(reason) : streamer?.routesChanged(reason)),
      audit: (entry) => audit(entry),
      holdDownMs: opts.routeHoldDownMs,
    });
    await routeTable.load();
    new RouteMetrics(trellisMetrics.meter('trellis.controller.routes'), () => routeTable.metrics((id) => streamer?.nodeInfo(id)?.name ?? id));
    streamer = new MapStreamer({
      store,
      routes: routeTable,
      builder: new MapBuilder(hooks, () => topology.topology, log),
      presence,
      log,
      clock,
      batchWindowMs: opts.batchWindowMs ?? 25,
      pingIntervalMs: opts.pingIntervalMs,
      onApplied: (ms, full) => (full ? controllerMetrics.recordBuild(ms) : controllerMetrics.recordChange(ms)),
      onSent: (ms) => controllerMetrics.recordFanout(ms),
    });
    posture = new PostureDecider({ store, hooks, streamer, log, clock, audit });
    const topologyStreamer = streamer;
    new TopologyMetrics(trellisMetrics.meter('trellis.controller.topology'), () => {
      const mesh = topologyStreamer.meshInForce();
      return mesh ? topologyFigures(mesh) : null;
    });
    const mapStreamer = streamer;
    const postureDecider = posture;
    let keyMetrics: KeyMetrics | null = null;
    const nodeEvent: ControllerServices['nodeEvent'] = async (kind, node, details) => {
      await hooks.runParallel('onNodeEvent', { kind, nodeId: node.id, nodeName: node.name, at: clock(), ...(details ? { details } : {}) });
      webConsole?.notify();
    };
    keys = new NodeKeys({
      store,
      policy: keyPolicy,
      clock,
      log,
      audit,
      nodeChanged: (nodeId, reason) => mapStreamer.nodeChanged(nodeId, reason),
      closeStreams: (nodeId) => {
        mapStreamer.closeStreams(nodeId);
        presence.forget(nodeId);
      },
      isOnline: (nodeId) => presence.isOnline(nodeId),
      peersOf: (nodeId) => mapStreamer.currentMap(nodeId)?.peers.map((p) => p.id) ?? [],
      reevaluatePosture: async (node, facts) => {
        await postureDecider.decide(node, facts, null, `controller:key rotation of ${node.name}`);
      },
      nodeEvent,
      onRotated: (reason) => keyMetrics?.recordRotation(reason),
      onRenewed: () => keyMetrics?.recordRenewal(),
    });
    await keys.start();
    if (store.changes) {
      // Listening before the first build, so nothing another controller changes meanwhile is missed.
      const sharedPresence = (shared = new SharedPresence({
        store,
        presence,
        url: urlFor(host, port, tls !== null),
        epoch: streamer.epoch,
        clock,
        log,
        nodeChanged: (nodeId, reason) => mapStreamer.nodeChanged(nodeId, reason),
      }));
      const runningKeys = keys;
      const policyLibrary = policies;
      relay = new StoreChangeRelay(
        store.changes,
        {
          nodeChanged: (nodeId, reason) => {
            mapStreamer.nodeChanged(nodeId, reason);
            runningKeys.storeChanged(nodeId);
          },
          meshChanged: (reason) => mapStreamer.meshChanged(reason),
          policyChanged: async (_version, reason) => {
            if (await policyLibrary.follow()) mapStreamer.meshChanged(`${reason} (another controller)`);
          },
          presence: (c) => sharedPresence.change(c),
          resync: async (reason) => {
            await policyLibrary.follow();
            await sharedPresence.resync(reason);
            mapStreamer.meshChanged(`resync: ${reason}`);
            await runningKeys.storeResynced();
          },
        },
        log,
        clock,
      );
      await relay.start();
      await sharedPresence.start();
      const feed = relay;
      new SharedStoreMetrics(trellisMetrics.meter('trellis.controller.store'), async () => {
        const f = feed.stats();
        return { changesReceived: f.received, resyncs: f.resyncs, listening: f.listening, lastDelayMs: f.lastDelayMs, ...(await sharedPresence.stats()) };
      });
    }
    await streamer.refresh('startup');

    const services: ControllerServices = {
      store,
      streamer,
      presence,
      hooks,
      nodeAuth: new NodeAuthenticator({ store, presence, clock, failed: (f) => failures.failed(f) }),
      policies,
      posture,
      routes: routeTable,
      topology,
      admin: new AdminGuard(admin.hash),
      trust,
      log,
      clock,
      audit,
      keys,
      nodeEvent,
    };
    const live = new LiveTelemetry({ clock });
    const nodeKeys = keys;
    keyMetrics = new KeyMetrics(trellisMetrics.meter('trellis.controller.keys'), async () => ({ nodes: await nodeKeys.keyAges(), graceMs: keyPolicy.rotation.graceMs }));
    const auditFile = settings.audit.file ? new AuditFileSink({ path: settings.audit.file, maxBytes: settings.audit.fileMaxBytes, keep: settings.audit.fileKeep }) : null;
    const exporter = (auditExport = new AuditExport({ store, hooks, sink: auditFile, log }));
    trustMetrics = new TrustMetrics(trellisMetrics.meter('trellis.controller.trust'), async () => {
      const f = failures.stats();
      const head = (await store.auditHead())?.seq ?? 0;
      const checkpoint = (await store.queryAudit({ types: [AUDIT_CHECKPOINT_ACTION], limit: 1 }))[0] ?? null;
      return {
        failureSources: f.sources,
        maxFailuresPerSource: f.maxFailures,
        blockedSources: f.blocked,
        streamsReplaced: trust.streams.replaced,
        auditEntries: head,
        auditUnsigned: head - (checkpoint?.seq ?? 0),
        auditCheckpointAgeS: checkpoint ? Math.max(0, (clock() - checkpoint.at) / 1000) : null,
        auditExported: exporter.count,
      };
    });
    const tm = trustMetrics;
    const cm = controllerMetrics;
    app = createHttpApp(log, { timeouts: settings.limits, https: tls ? { key: tls.key, cert: tls.certChain } : null });
    await installAbuseLimits(app, failures);
    await installOpenApi(app);
    installSignedRoutes(app);
    app.addHook('onRoute', (r) => {
      for (const method of [r.method].flat()) routes.push({ method, url: r.url, schema: (r.schema ?? null) as RouteInfo['schema'] });
    });
    app.addHook('onResponse', async (request, reply) => {
      cm.recordRequest(request.routeOptions.url ?? 'unknown', request.method, reply.statusCode, reply.elapsedTime);
    });
    app.get(ROUTES.health, { bodyLimit: 1024, ...rateLimited(settings.limits, 'unauthenticated'), schema: { querystring: { type: 'object', additionalProperties: false, properties: {} } } }, async () => ({
      status: 'ok',
      epoch: streamer?.epoch,
    }));
    registerEnrollRoute(app, services);
    registerOpenApiRoute(app, settings.limits);
    registerNodeRoutes(app, services);
    registerNodeKeyRoutes(app, services);
    registerConnectionEventsRoute(app, services, (kinds) => tm.recordConnectionEvents(kinds));
    registerMapStreamRoute(app, services);
    registerAdminRoutes(app, services);
    registerTelemetryRoute(app, services, { live, onAccepted: (b, duplicate) => cm.recordTelemetry(rowCounts(b), duplicate) });
    registerPolicyNodeRoutes(app, services);
    pluginRoutes.mount(app, services);
    webConsole = registerWebConsole(app, { services, live, sources: pluginSources });

    failures.start();
    await exporter.start();
    checkpointTimer = setInterval(() => {
      store.checkpointAudit(clock()).catch((err: unknown) => log.error({ err }, 'audit checkpoint failed'));
    }, settings.audit.checkpointIntervalMs);
    checkpointTimer.unref();

    await store.purgeNonces(clock());
    purgeTimer = setInterval(() => {
      store.purgeNonces(clock()).catch((err: unknown) => log.error({ err }, 'nonce purge failed'));
    }, NONCE_PURGE_MS);
    purgeTimer.unref();

    if (stunListen.length > 0) {
      const stunMetrics = new StunMetrics(trellisMetrics.meter('trellis.controller.stun'));
      stun = await StunService.start({ listen: stunListen, software: `trellis ${coreVersion()}`, log, onOutcome: (l, o) => stunMetrics.record(l, o) });
    }
    await app.listen({ host, port });
    const bound = app.server.address() as AddressInfo;
    const url = urlFor(host, bound.port, tls !== null);
    await shared?.announce(url);
    log.info({ url, dataDir: opts.dataDir, tokenFile: admin.file, epoch: streamer.epoch, plugins: pluginHost?.names() ?? [], requireApproval, policyVersion: policies.active()?.version ?? null, tls: tls ? { caFingerprint: tls.caFingerprint, names: tls.subjectAltName, notAfter: tls.notAfter } : null }, 'controller listening');

    const running = streamer;
    const runningKeys = keys;
    const runningStun = stun;
    const server = app;
    let closing: Promise<void> | null = null;
    const close = async () => {
      if (purgeTimer) clearInterval(purgeTimer);
      if (checkpointTimer) clearInterval(checkpointTimer);
      webConsole?.close();
      runningKeys.close();
      routeTable.close();
      await runningStun?.close();
      const now = clock();
      for (const node of await store.listNodes()) {
        if (presence.isOnline(node.id)) await store.touchNode(node.id, now);
      }
      await running.close();
      await server.close();
      // Streams are closed: the others take this controller's nodes as held elsewhere or offline.
      await runningShared?.close();
      await runningRelay?.close();
      // The last failure windows, a checkpoint over everything, and its export, before plugins stop.
      await failures.close();
      await store.checkpointAudit(clock());
      await exporter.close();
      await pluginHost?.shutdown();
      await metricsRt?.shutdown();
      await store.close();
      log.info({ url }, 'controller stopped');
    };
    const runningShared = shared;
    const runningRelay = relay;
    return {
      url,
      adminToken: admin.token,
      controllerId: runningShared?.id ?? null,
      sharedStats: () => runningRelay?.stats() ?? null,
      tls: tls ? { caPem: tls.caPem, caFingerprint: tls.caFingerprint } : null,
      app: server,
      store,
      streamer: running,
      keys: runningKeys,
      metrics: trellisMetrics,
      stats: () => running.stats(),
      trust,
      stun: runningStun,
      routes,
      close: () => (closing ??= close()),
    };
  } catch (err) {
    if (purgeTimer) clearInterval(purgeTimer);
    if (checkpointTimer) clearInterval(checkpointTimer);
    webConsole?.close();
    keys?.close();
    await stun?.close();
    await failures.close().catch(() => undefined);
    await auditExport?.close().catch(() => undefined);
    await streamer?.close();
    await app?.close().catch(() => undefined);
    await shared?.close();
    await relay?.close();
    await pluginHost?.shutdown();
    await store.close();
    throw err;
  }
}

/** rowCounts is a batch's rows by kind: probes, tunnels, and each plugin's rows under the plugin's name. */
function rowCounts(b: TelemetryBatch): Record<string, number> {
  const counts: Record<string, number> = { probes: b.probes.length, tunnels: b.tunnels.length };
  for (const [plugin, rows] of Object.entries(b.plugins ?? {})) counts[plugin] = rows.length;
  return counts;
}
