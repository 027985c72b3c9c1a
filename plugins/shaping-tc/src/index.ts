/**
 * @trellis/plugin-shaping-tc: traffic classes and prioritisation on the WireGuard interface with
 * Linux tc. Controller side: assigns each node a ShapingProfile through its NetworkMap
 * (extensions['shaping-tc']). Agent side: applies it with HTB + u32 (+ ifb for ingress), changing
 * only what differs, and samples per-class counters.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  definePlugin,
  SkipPlugin,
  TrellisError,
  type ControllerAccess,
  type NetworkMap,
  type NodeInfo,
  type PluginLogger,
  type TelemetryContribution,
  type TrellisPlugin,
} from '@trellis/core/api';
import { checkConfig, EXTENSION_KEY, profileExtensions, type ShapingConfig, type ShapingExtension } from './assign';
import { detectCapabilities, missingCapabilities } from './capabilities';
import { ExecRunner, type CommandRunner } from './command-runner';
import { configSchema } from './config-schema';
import { ShapingErrorCode } from './errors';
import { ShapingMetrics } from './shaping-metrics';
import { TcShaper, type ClassStatsSample, type ShapingStatus } from './tc-apply';
import { renderShapingSection } from './status-text';
import type { ShapingClassRow } from './telemetry-rows';

/** The controller keeps the last config it accepted here, so a bad edit cannot drop the shaping in force. */
export const LAST_GOOD_FILE = 'shaping-tc.last-good.json';
/** Counters younger than this are served from memory to status and telemetry. */
const FRESH_MS = 1000;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;

export interface ShapingTcPluginConfig extends ShapingConfig {
  statsIntervalMs?: number;
}

export interface ShapingTcPluginOptions {
  /** Where tc and ip run; defaults to this host. */
  runner?: CommandRunner;
}

export type ShapingTcPlugin = TrellisPlugin<ShapingTcPluginConfig> & {
  /** The latest per-class counters (bytes, packets, drops, overlimits, backlog); [] when not shaping. */
  classStats(): ClassStatsSample[];
  /** The agent-side shaper, once set up (for status views and tests). */
  shaper(): TcShaper | null;
};

/** createShapingTcPlugin makes an independent plugin instance (one per runtime; tests make their own). */
export function createShapingTcPlugin(options: ShapingTcPluginOptions = {}): ShapingTcPlugin {
  /** Controller side: each node's extension under the accepted config. */
  let extensionOf: ((node: NodeInfo) => ShapingExtension | null) | null = null;
  let shaper: TcShaper | null = null;
  let log: PluginLogger | null = null;
  let timer: NodeJS.Timeout | null = null;
  let shapingMetrics: ShapingMetrics | null = null;
  let nodeName = '';
  // onNetworkMap is a parallel hook: maps are applied one at a time, in arrival order.
  let queue: Promise<void> = Promise.resolve();
  // A map whose apply failed on tc (not on a bad profile) is retried until it holds or a newer map comes.
  let latestMap: NetworkMap | null = null;
  let retryTimer: NodeJS.Timeout | null = null;
  let retryDelay = RETRY_MIN_MS;
  let stopped = false;

  const enqueue = (map: NetworkMap): Promise<void> => {
    latestMap = map;
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = null;
    const next = queue.then(() => applyMap(map));
    queue = next.catch((err: unknown) => scheduleRetry(map, err));
    return next;
  };

  const scheduleRetry = (map: NetworkMap, err: unknown): void => {
    if (stopped || map !== latestMap) return;
    log?.warn({ err: (err as Error)?.message, retryInMs: retryDelay }, 'applying the shaping profile failed; retrying');
    retryTimer = setTimeout(() => {
      retryTimer = null;
      if (map === latestMap && !stopped) void enqueue(map).catch(() => undefined);
    }, retryDelay);
    retryTimer.unref();
    retryDelay = Math.min(retryDelay * 2, RETRY_MAX_MS);
  };

  /** freshStats re-reads the counters unless the last sample is recent enough. */
  const freshStats = async (): Promise<ClassStatsSample[]> => {
    if (!shaper) return [];
    const latest = shaper.classStats();
    if (latest.length > 0 && Date.now() - latest[0].at < FRESH_MS) return latest;
    return shaper.sampleStats().catch(() => latest);
  };

  const applyMap = async (map: NetworkMap): Promise<void> => {
    if (!shaper || !log) return;
    const ext = map.extensions[EXTENSION_KEY] as { profile?: unknown } | undefined;
    if (!ext?.profile) {
      const removed = await shaper.cleanup();
      if (removed.length > 0) log.info({ commands: removed.length }, 'shaping profile removed from the map; Trellis shaping cleaned up');
      return;
    }
    const peerAddresses = Object.fromEntries(map.peers.map((p) => [p.name, p.addresses.ipv4]));
    try {
      const started = process.hrtime.bigint();
      const result = await shaper.apply(ext.profile, peerAddresses);
      retryDelay = RETRY_MIN_MS;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (result.commands.length > 0) log.info({ profile: result.profile, commands: result.commands.length, ms: Math.round(ms) }, 'shaping profile applied');
    } catch (err) {
      if (err instanceof TrellisError && err.code === ShapingErrorCode.PROFILE_INVALID) {
        log.error({ code: err.code, problems: err.details?.problems }, `${err.message}`);
        return;
      }
      throw err;
    }
  };

  const plugin = definePlugin<ShapingTcPluginConfig>({
    manifest: {
      name: EXTENSION_KEY,
      version: '0.1.0',
      apiRange: '^1.0.0',
      sides: ['agent', 'controller'],
      configSchema,
    },
    async setup(ctx) {
      log = ctx.log;
      stopped = false;
      if (ctx.side === 'controller') {
        extensionOf = profileExtensions(await acceptConfig(ctx.config, ctx.controller, ctx.log));
        return;
      }
      if (!ctx.agent) throw new SkipPlugin('shaping-tc needs the agent side (a WireGuard interface) to shape');
      nodeName = ctx.agent.nodeName;
      const runner = options.runner ?? new ExecRunner();
      const caps = await detectCapabilities(runner);
      if (!caps.htb) throw new SkipPlugin('this kernel has no HTB qdisc (sch_htb), so tc shaping cannot run here');
      const missing = missingCapabilities(caps);
      if (missing.length > 0) ctx.log.info({ missing }, `kernel lacks ${missing.join(', ')}`);
      shaper = new TcShaper({ iface: ctx.agent.iface, stateDir: ctx.agent.stateDir, runner, capabilities: caps, log: ctx.log });
      if (!shaper.leafKind) ctx.log.warn('no fq_codel or sfq in this kernel: each class keeps the default pfifo leaf (no fair queueing inside a class)');
      if (!caps.u32) ctx.log.warn('no u32 classifier in this kernel: all traffic will go to the default class');
      if (!shaper.ingressSupported) ctx.log.warn('no ifb/mirred/ingress in this kernel: ingress shaping is left out');
      shapingMetrics = new ShapingMetrics(ctx.meter, freshStats);
      ctx.agent.registerStatusText?.(async () => {
        if (!shaper) return null;
        await freshStats();
        const text = renderShapingSection(shaper.describe());
        return text ? { place: 'end', text } : null;
      });
      const interval = ctx.config.statsIntervalMs ?? 5000;
      timer = setInterval(() => {
        void shaper?.sampleStats().catch((err: Error) => log?.debug({ err: err.message }, 'tc stats sample failed'));
      }, interval);
      timer.unref();
    },
    // The node's profile depends on the node and the accepted config only, as mapExtension must.
    mapExtension(node) {
      return extensionOf ? extensionOf(node) : null;
    },
    onNetworkMap(map) {
      return enqueue(map);
    },
    async statusSection(): Promise<ShapingStatus | null> {
      if (!shaper) return null;
      await freshStats();
      return shaper.describe();
    },
    async collectTelemetry(): Promise<TelemetryContribution> {
      const rows: ShapingClassRow[] = (await freshStats()).map((s) => ({
        ts: s.at,
        node: nodeName,
        iface: s.dev,
        direction: s.direction,
        class: s.label,
        bytes: s.bytes,
        packets: s.packets,
        drops: s.drops,
        overlimits: s.overlimits,
        backlog: s.backlogBytes,
      }));
      return { rows };
    },
    async shutdown() {
      stopped = true;
      shapingMetrics?.stop();
      shapingMetrics = null;
      if (timer) clearInterval(timer);
      timer = null;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = null;
      await queue;
      if (shaper) await shaper.cleanup();
      shaper = null;
    },
  });
  return Object.assign(plugin, { classStats: () => shaper?.classStats() ?? [], shaper: () => shaper });
}

/**
 * acceptConfig checks the controller's config. A bad one is refused: with a last good config on
 * disk that one stays in force (so agents keep their shaping) and the refusal is logged and audited;
 * without one the error stands and the plugin is disabled.
 */
async function acceptConfig(input: ShapingTcPluginConfig, controller: ControllerAccess | undefined, log: PluginLogger): Promise<ShapingConfig> {
  const file = controller ? join(controller.dataDir, LAST_GOOD_FILE) : null;
  try {
    const ok = checkConfig(input);
    if (file) {
      await mkdir(controller!.dataDir, { recursive: true });
      await writeFile(`${file}.tmp`, JSON.stringify(ok, null, 2));
      await rename(`${file}.tmp`, file);
    }
    return ok;
  } catch (err) {
    if (!(err instanceof TrellisError) || err.code !== ShapingErrorCode.CONFIG_INVALID || !file) throw err;
    let previous: ShapingConfig;
    try {
      previous = checkConfig(JSON.parse(await readFile(file, 'utf8')) as ShapingConfig);
    } catch {
      throw err;
    }
    log.error({ code: err.code, file }, `${err.message}. The config was refused; the last good shaping config stays in force`);
    controller?.audit({ action: 'shaping.config.refused', actor: 'config', details: { error: err.message } });
    return previous;
  }
}

/** The plugin instance the runtime loads as `@trellis/plugin-shaping-tc`. */
export const shapingTcPlugin = createShapingTcPlugin();
export default shapingTcPlugin;

/** classStats returns the loaded plugin's latest per-class counters, for telemetry and status. */
export function classStats(): ClassStatsSample[] {
  return shapingTcPlugin.classStats();
}

export { checkConfig, profileExtensions, profileFor, EXTENSION_KEY } from './assign';
export type { AssignableNode, AssignRule, ShapingConfig, ShapingExtension } from './assign';
export { detectCapabilities, CAPABILITY_NAMES } from './capabilities';
export type { Capabilities, CapabilityName } from './capabilities';
export { ExecRunner, RecordingRunner, isMutating } from './command-runner';
export type { CommandRunner } from './command-runner';
export { buildDesiredState, ifbNameFor } from './desired-state';
export type { DesiredState } from './desired-state';
export { diffDevice } from './tc-diff';
export { ShapingErrorCode } from './errors';
export { renderShapingSection } from './status-text';
export type { ShapingClassRow } from './telemetry-rows';
export { CLASS_NAMES, parseProfile, validateProfile } from './profile';
export type { ShapingCap, ShapingProfile, TrafficClass, TrafficClassName, ClassMatch, PortMatch } from './profile';
export { TcShaper } from './tc-apply';
export type { ApplyResult, ClassStatsSample, CreatedState, ShapingClassStatus, ShapingStatus } from './tc-apply';
