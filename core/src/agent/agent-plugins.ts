/**
 * The agent's configuration file: its `agent.settings` (telemetry delivery, metrics cardinality)
 * and its `agent.plugins`, loaded into a hook runner.
 */
import type { Logger } from 'pino';
import type { AgentAccess, MetricsAccess } from '../api/plugin';
import { loadRuntimeConfig } from '../config/runtime-config';
import { errors } from '../errors';
import { noHooks, type HookRunner } from '../plugins/hook-runner';
import type { loadPluginHost as LoadPluginHost } from '../plugins/plugin-host';
import { resolveTelemetryOptions, type TelemetryOptions } from './telemetry/agent-telemetry';

export interface AgentSettings {
  telemetry: TelemetryOptions;
  /** Above this many peers metrics are exported as aggregates; undefined keeps the default. */
  maxPeerSeries: number | undefined;
}

/** resolveAgentSettings reads `agent.settings` of the config file; explicit options win over it. */
export function resolveAgentSettings(
  configFile: string | undefined,
  overrides: { telemetry?: Partial<TelemetryOptions>; metrics?: { maxPeerSeries?: number } },
): AgentSettings {
  const settings = configFile ? loadRuntimeConfig(configFile).agent.settings : {};
  let telemetry: TelemetryOptions;
  try {
    telemetry = { ...resolveTelemetryOptions(settings.telemetry), ...overrides.telemetry };
  } catch (err) {
    throw errors.configInvalid(configFile ?? 'telemetry options', (err as Error).message);
  }
  const maxPeerSeries = overrides.metrics?.maxPeerSeries ?? (settings.metrics as { maxPeerSeries?: unknown } | undefined)?.maxPeerSeries;
  if (maxPeerSeries !== undefined && !(typeof maxPeerSeries === 'number' && Number.isInteger(maxPeerSeries) && maxPeerSeries >= 0)) {
    throw errors.configInvalid(configFile ?? 'metrics options', `agent.settings.metrics.maxPeerSeries must be a non-negative integer, got ${JSON.stringify(maxPeerSeries)}`);
  }
  return { telemetry, maxPeerSeries: maxPeerSeries as number | undefined };
}

/** The agent's hooks, and the host to shut down at stop when the agent loaded the plugins itself. */
export interface AgentPlugins {
  hooks: HookRunner;
  ownHost: { shutdown(): Promise<void> } | null;
}

/** loadAgentPlugins uses the given hooks, else the plugins the config file names, else none. */
export async function loadAgentPlugins(o: {
  hooks?: HookRunner;
  configFile?: string;
  log: Logger;
  access: AgentAccess;
  metrics: MetricsAccess;
}): Promise<AgentPlugins> {
  if (o.hooks) return { hooks: o.hooks, ownHost: null };
  if (!o.configFile) return { hooks: noHooks, ownHost: null };
  // Loaded only when a config names plugins: it pulls in Ajv, YAML and semver, which cost a
  // noticeable part of `trellis up`'s start-up (and so of join time) on small machines.
  const { loadPluginHost } = require('../plugins/plugin-host') as { loadPluginHost: typeof LoadPluginHost };
  const host = await loadPluginHost({ side: 'agent', configFile: o.configFile, log: o.log, agent: o.access, metrics: o.metrics });
  return { hooks: host, ownHost: host };
}
