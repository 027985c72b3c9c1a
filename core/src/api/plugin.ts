import type { Meter } from '@opentelemetry/api';
import type { HookSignatures } from './hooks';
import type { LabWiring } from './lab-wiring';
import type { AlertsSource } from './live-alerts';
import type { MetricsCollection } from './metrics';
import type { PathHistorySource } from './path-history';
import type { ControllerPolicyAccess } from './policy';
import type { StatusTextSource } from './status-text';

/** JSON Schema (draft 2020-12 subset understood by Ajv) for a plugin's config. */
export type JsonSchema = Record<string, unknown>;

export interface PluginManifest {
  /** Unique, kebab-case; also the key under which the plugin's config and map extension live. */
  name: string;
  version: string;
  /** Semver range of the core plugin API this plugin was written for, e.g. "^1.0.0". */
  apiRange: string;
  dependsOn?: string[];
  configSchema?: JsonSchema;
  /** Which runtime loads it; a plugin for the other side is ignored there. */
  sides?: Array<'agent' | 'controller'>;
}

export interface PluginLogger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

/** Node-side view for agent plugins. */
export interface AgentAccess {
  nodeName: string;
  /** WireGuard interface name. */
  iface: string;
  stateDir: string;
  /** Ask the agent to re-collect facts now (e.g. after a change was observed). */
  requestFactsRefresh(): void;
  /** Unix ms when this node's WireGuard key was created; null when unknown (identities from before it was recorded). */
  wgKeyCreatedAt?: number | null;
  /**
   * GET a signed node route of the controller (e.g. /v1/policy/bundle). Any HTTP answer resolves
   * (check status); rejects only when the controller cannot be reached.
   */
  fetchFromController?(path: string): Promise<ControllerFetchResult>;
  /** Add this plugin's text to `trellis status`; call it from setup. Absent on agents without the extension point. */
  registerStatusText?(source: StatusTextSource): void;
}

/** ControllerFetchResult is a raw controller answer: header names are lower-case. */
export interface ControllerFetchResult {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Controller-side view for controller plugins. */
export interface ControllerAccess {
  dataDir: string;
  /** Ask the controller to rebuild every node's map (e.g. after a policy change). */
  requestMapRebuild(reason: string): void;
  /** Append an event to the audit log. */
  audit(event: { action: string; actor: string; target?: string; details?: Record<string, unknown> }): void;
  /** Policy versions and the engine registration (absent on controllers older than the policy lifecycle). */
  policy?: ControllerPolicyAccess;
  /**
   * Serve an admin-authenticated GET route (Bearer admin token, or a console session), e.g.
   * `/v1/admin/my-plugin`. Call it from setup; the path must start with /v1/admin/ and not be taken.
   * Absent on controllers without the extension point.
   */
  registerAdminRoute?(path: string, handler: AdminRouteHandler): void;
  /** Give the web console its per-path history charts; call it from setup. One source per controller. */
  registerPathHistory?(source: PathHistorySource): void;
  /** Serve live alerts at GET /v1/admin/alerts and in the web console; call it from setup. One source per controller. */
  registerAlerts?(source: AlertsSource): void;
}

/** AdminRouteRequest is what a plugin's admin route sees of the request: its query string only. */
export interface AdminRouteRequest {
  query: Record<string, string | undefined>;
}

/** AdminRouteHandler answers one admin GET; the result is sent as JSON, a thrown TrellisError as its catalogued status. */
export type AdminRouteHandler = (request: AdminRouteRequest) => Promise<unknown> | unknown;

/** Read access to the runtime's OpenTelemetry metrics, for exporters (Prometheus, OTLP). */
export interface MetricsAccess {
  /** Collects every core and plugin instrument now. */
  collect(): Promise<MetricsCollection>;
}

export interface PluginContext<C = unknown> {
  side: 'agent' | 'controller';
  log: PluginLogger;
  meter: Meter;
  /** Validated against manifest.configSchema, with schema defaults applied. */
  config: C;
  agent?: AgentAccess;
  controller?: ControllerAccess;
  /** Present when the runtime records metrics (it always does when started by core). */
  metrics?: MetricsAccess;
}

export type PluginHooks = { [H in keyof HookSignatures]?: HookSignatures[H] };

export interface TrellisPlugin<C = unknown> extends PluginHooks {
  manifest: PluginManifest;
  /** Runs once after config validation, in dependency order. Throw SkipPlugin to opt out. */
  setup?: (ctx: PluginContext<C>) => Promise<void> | void;
  /** Runs once at stop, in reverse dependency order. */
  shutdown?: () => Promise<void> | void;
  /** How the plugin joins a service `trellis lab up` runs (lab-wiring.ts); the runtimes never call it. */
  lab?: LabWiring;
}

/** The version of the plugin API this core implements. */
export const PLUGIN_API_VERSION = '1.0.0';

/** definePlugin checks the shape at authoring time and returns the plugin unchanged. */
export function definePlugin<C = unknown>(plugin: TrellisPlugin<C>): TrellisPlugin<C> {
  return plugin;
}
