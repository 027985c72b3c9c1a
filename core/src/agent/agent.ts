/**
 * agent: the node runtime behind `trellis up`. It enrolls once, keeps its identity and last map
 * on disk, follows the controller's map stream, and drives one WireGuard device through a single
 * serialized reconfiguration loop. The controller being away never tears tunnels down.
 *
 * startAgent only assembles the pieces: enrollment.ts, agent-plugins.ts (config and plugins) and
 * agent-runtime.ts (what runs until stop).
 */
import { promises as fs } from 'node:fs';
import type { AgentAccess } from '../api/plugin';
import type { StatusTextSource } from '../api/status-text';
import { ed25519PrivateKey } from '../auth/keys';
import { createLogger } from '../log/logger';
import { TrellisMetrics } from '../metrics/trellis-metrics';
import * as wgLink from '../wg/link';
import { UapiDevice } from '../wg/uapi-device';
import type { AgentLink } from './agent-link';
import { loadAgentPlugins, resolveAgentSettings } from './agent-plugins';
import { AgentRuntime } from './agent-runtime';
import { ControllerClient } from './controller-client';
import { resolveControllerFetch } from './controller-pin';
import { ensureEnrolled } from './enrollment';
import { loadOrCreateIdentity } from './identity';
import { IdentityState } from './identity-state';
import { underlayCandidates, type FoundCandidate } from './endpoint-candidates';
import { resolvePrefs } from './prefs';
import { DEFAULT_INTERVALS, DEFAULT_LISTEN_PORT, type AgentIntervals, type StartAgentOptions } from './start-options';
import type { AgentHandle } from './types';

export type { AgentHandle };
export type { AgentIntervals, StartAgentOptions } from './start-options';
export { DEFAULT_LISTEN_PORT, DEFAULT_PROBE_INTERVAL_MS, DEFAULT_PROBE_PORT } from './start-options';

const defaultLink: AgentLink = {
  setLinkUp: (iface, mtu) => wgLink.setLinkUp(iface, mtu),
  syncAddresses: (iface, cidrs) => wgLink.syncAddresses(iface, cidrs),
  syncRoutes: (iface, prefixes) => wgLink.syncRoutes(iface, prefixes),
  syncExitRouting: (iface, spec) => wgLink.syncExitRouting(iface, spec),
  listUnderlayAddresses: (exclude) => wgLink.listUnderlayAddresses(exclude),
  listUnderlayInterfaces: (exclude) => wgLink.listUnderlayInterfaces(exclude),
};

/** keepPrivate makes the state dir (it holds the private keys) 0700 when it was made wider. */
async function keepPrivate(dir: string, log: ReturnType<typeof createLogger>): Promise<void> {
  const mode = (await fs.stat(dir)).mode & 0o777;
  if ((mode & 0o077) === 0) return;
  await fs.chmod(dir, 0o700);
  log.info({ dir, was: mode.toString(8) }, 'made the state dir private (0700): it holds the node\'s private keys');
}

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
  await keepPrivate(opts.stateDir, log);
  const client = new ControllerClient({ url: opts.controllerUrl, fetch: opts.fetch ?? (await resolveControllerFetch(opts, log)) });
  const discoverEndpoints = async (): Promise<string[]> => {
    if (opts.endpoints) return [...opts.endpoints];
    const addrs = await link.listUnderlayAddresses([iface]);
    return addrs.map((a) => a.split('/')[0]).map((a) => (a.includes(':') ? `[${a}]:${listenPort}` : `${a}:${listenPort}`));
  };
  const discoverCandidates = async (): Promise<FoundCandidate[]> => {
    if (opts.endpoints) return opts.endpoints.map((address) => ({ kind: 'local', address, source: 'configured' }));
    if (link.listUnderlayInterfaces) return underlayCandidates(await link.listUnderlayInterfaces([iface]), listenPort);
    return (await discoverEndpoints()).map((address) => ({ kind: 'local', address }));
  };
  const { identity, map: enrollMap } = await ensureEnrolled(
    client,
    await loadOrCreateIdentity(opts.stateDir, opts.name, opts.controllerUrl),
    discoverEndpoints,
    log,
    opts,
  );
  client.setIdentity(identity.nodeId as string, ed25519PrivateKey(identity.identity));
  const identityState = new IdentityState(opts.stateDir, identity);

  const factsRefresh = { fn: (): void => undefined };
  const statusTextSources: StatusTextSource[] = [];
  const access: AgentAccess = {
    nodeName: identity.name,
    iface,
    stateDir: opts.stateDir,
    requestFactsRefresh: () => factsRefresh.fn(),
    // Read at each facts round: a rotation resets the key age posture checks.
    get wgKeyCreatedAt() {
      return identityState.get().wgKeyCreatedAt ?? null;
    },
    fetchFromController: (path) => client.getRaw(path),
    registerStatusText: (source) => void statusTextSources.push(source),
  };
  const settings = resolveAgentSettings(opts.configFile, opts);
  const metrics = new TrellisMetrics('agent', { node: identity.name });
  const { hooks, ownHost } = await loadAgentPlugins({ hooks: opts.hooks, configFile: opts.configFile, log, access, metrics: { collect: () => metrics.collect() } });

  const device = opts.device ?? new UapiDevice({ name: iface, wireguardGo: opts.wireguardGo, log });
  const runtime = new AgentRuntime({
    opts,
    log,
    prefs,
    link,
    intervals,
    listenPort,
    identity: identityState,
    client,
    hooks,
    device,
    ownHost,
    discoverEndpoints,
    discoverCandidates,
    telemetryOptions: settings.telemetry,
    metrics,
    maxPeerSeries: settings.maxPeerSeries,
    statusTextSources,
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
