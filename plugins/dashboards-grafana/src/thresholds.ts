/**
 * Alert thresholds: one configuration object, read from a JSON or YAML file and layered over the
 * shipped defaults (thresholds.defaults.json). Every dashboard colour step and every alert rule takes
 * its numbers from here, so a threshold lives in one place. Validation refuses unknown keys, negative
 * or zero values, percentages above 100 and malformed path patterns, naming the key.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { dashboardsErrors } from './errors';
import DEFAULTS from './thresholds.defaults.json';

export interface AlertThresholds {
  /** How often Grafana evaluates the rule group. */
  evaluationIntervalSeconds: number;
  /** A tunnel is down when its last handshake (plus the age of that report) is older than this. */
  handshakeMaxAgeSeconds: number;
  tunnelForSeconds: number;
  lossMaxPercent: number;
  lossWindowSeconds: number;
  lossForSeconds: number;
  /** p95 RTT limit for paths without their own entry in rttP95PathMs. */
  rttP95DefaultMs: number;
  /** Per-path p95 RTT limits: "src->dst" or "src->dst:path" to milliseconds. */
  rttP95PathMs: Record<string, number>;
  rttWindowSeconds: number;
  rttForSeconds: number;
  jitterMaxMs: number;
  /** Paths carrying realtime traffic, as "src->dst" patterns where * matches any node. */
  realtimePaths: string[];
  jitterWindowSeconds: number;
  jitterForSeconds: number;
  nodeOfflineForSeconds: number;
  postureWindowSeconds: number;
  /** No insert block landed in ClickHouse for this long. */
  telemetryStalledSeconds: number;
  /** A block landed this much later than its newest row (spool replay backlog). */
  telemetryLagMaxSeconds: number;
  telemetryForSeconds: number;
  shapingDropsPerSecond: number;
  shapingWindowSeconds: number;
  shapingForSeconds: number;
  /** p95 limit of a full map rebuild on the controller (trellis_map_build_duration_seconds). */
  mapBuildP95MaxMs: number;
  /** p95 limit of an incremental map change (trellis_map_change_duration_seconds). */
  mapChangeP95MaxMs: number;
  /** p95 limit of a map batch's fan-out to every open stream, apply and send (trellis_map_fanout_duration_seconds). */
  mapFanoutP95MaxMs: number;
  mapWindowSeconds: number;
  mapForSeconds: number;
  /** How long an agent may run a device without segmentation offloads, or a fallback build, before it alerts. */
  deviceForSeconds: number;
  /** A pair that has used a relay without a break for longer than this (its direct path is broken). */
  relayedMaxSeconds: number;
  /** A pair whose chosen endpoint had to be written back more often than this in an hour (something keeps moving WireGuard off the chosen path). */
  endpointReassertsPerHour: number;
  /** A relay node's forwarder dropping more datagrams per second than this (any reason) over the window. */
  relayDropsPerSecond: number;
  relayDropsWindowSeconds: number;
  relayDropsForSeconds: number;
  /** Failed authentications from one source address within authFailureWindowSeconds that raise the burst alert. */
  authFailuresPerSource: number;
  authFailureWindowSeconds: number;
  /** A node whose live tunnels outnumber its usual most (over peerBaselineSeconds) by more than this. */
  peerSpikeExtraPeers: number;
  /** "Now" for the peer count: the last this many seconds; earlier windows of the same length make the usual count. */
  peerSpikeWindowSeconds: number;
  peerBaselineSeconds: number;
  /**
   * Audit entries waiting this long for a signed checkpoint mean the controller stopped signing its
   * log (it checkpoints every 100 entries or 5 minutes): the trail is no longer tamper-evident.
   */
  auditUnsignedMaxSeconds: number;
  /** Where the webhook contact point posts notifications. */
  webhookUrl: string;
}

export const DEFAULT_THRESHOLDS: Readonly<AlertThresholds> = Object.freeze(DEFAULTS as AlertThresholds);

const NAME = '[A-Za-z0-9_.-]+';
const PATH_KEY = new RegExp(`^${NAME}->${NAME}(:${NAME})?$`);
const REALTIME_PATTERN = new RegExp(`^(${NAME}|\\*)->(${NAME}|\\*)$`);
const MAX_SECONDS = 7 * 86_400;

type Kind = 'seconds' | 'ms' | 'percent' | 'rate' | 'pathMs' | 'patterns' | 'url';
const KINDS: Record<keyof AlertThresholds, Kind> = {
  evaluationIntervalSeconds: 'seconds',
  handshakeMaxAgeSeconds: 'seconds',
  tunnelForSeconds: 'seconds',
  lossMaxPercent: 'percent',
  lossWindowSeconds: 'seconds',
  lossForSeconds: 'seconds',
  rttP95DefaultMs: 'ms',
  rttP95PathMs: 'pathMs',
  rttWindowSeconds: 'seconds',
  rttForSeconds: 'seconds',
  jitterMaxMs: 'ms',
  realtimePaths: 'patterns',
  jitterWindowSeconds: 'seconds',
  jitterForSeconds: 'seconds',
  nodeOfflineForSeconds: 'seconds',
  postureWindowSeconds: 'seconds',
  telemetryStalledSeconds: 'seconds',
  telemetryLagMaxSeconds: 'seconds',
  telemetryForSeconds: 'seconds',
  shapingDropsPerSecond: 'rate',
  shapingWindowSeconds: 'seconds',
  shapingForSeconds: 'seconds',
  mapBuildP95MaxMs: 'ms',
  mapChangeP95MaxMs: 'ms',
  mapFanoutP95MaxMs: 'ms',
  mapWindowSeconds: 'seconds',
  mapForSeconds: 'seconds',
  deviceForSeconds: 'seconds',
  relayedMaxSeconds: 'seconds',
  endpointReassertsPerHour: 'rate',
  relayDropsPerSecond: 'rate',
  relayDropsWindowSeconds: 'seconds',
  relayDropsForSeconds: 'seconds',
  authFailuresPerSource: 'rate',
  authFailureWindowSeconds: 'seconds',
  peerSpikeExtraPeers: 'rate',
  peerSpikeWindowSeconds: 'seconds',
  peerBaselineSeconds: 'seconds',
  auditUnsignedMaxSeconds: 'seconds',
  webhookUrl: 'url',
};

const positive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

function checkValue(source: string, key: keyof AlertThresholds, v: unknown): void {
  const bad = (what: string) => dashboardsErrors.thresholdsInvalid(source, key, `${what}, got ${JSON.stringify(v)}`);
  switch (KINDS[key]) {
    case 'seconds':
      if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > MAX_SECONDS) throw bad(`must be whole seconds from 1 to ${MAX_SECONDS}`);
      return;
    case 'ms':
    case 'rate':
      if (!positive(v)) throw bad('must be a number greater than 0');
      return;
    case 'percent':
      if (!positive(v) || v > 100) throw bad('must be a percentage greater than 0 and at most 100');
      return;
    case 'pathMs': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('must be an object of "src->dst[:path]": milliseconds');
      for (const [k, ms] of Object.entries(v)) {
        if (!PATH_KEY.test(k)) throw dashboardsErrors.thresholdsInvalid(source, `${key}.${k}`, 'is not a "src->dst" or "src->dst:path" key');
        if (!positive(ms)) throw dashboardsErrors.thresholdsInvalid(source, `${key}.${k}`, `must be milliseconds greater than 0, got ${JSON.stringify(ms)}`);
      }
      return;
    }
    case 'patterns':
      if (!Array.isArray(v) || v.some((p) => typeof p !== 'string' || !REALTIME_PATTERN.test(p))) throw bad('must be a list of "src->dst" patterns (* matches any node)');
      return;
    case 'url':
      if (typeof v !== 'string' || !/^https?:\/\/[^\s]+$/.test(v)) throw bad('must be an http(s) URL');
      return;
  }
}

/** resolveThresholds validates overrides and layers them over the defaults; `source` names the file in errors. */
export function resolveThresholds(input: unknown, source = 'config'): AlertThresholds {
  if (input === undefined || input === null) return structuredClone(DEFAULT_THRESHOLDS) as AlertThresholds;
  if (typeof input !== 'object' || Array.isArray(input)) throw dashboardsErrors.thresholdsInvalid(source, '(root)', 'must be an object of threshold keys');
  const out = structuredClone(DEFAULT_THRESHOLDS) as AlertThresholds;
  for (const [key, v] of Object.entries(input)) {
    if (!(key in KINDS)) throw dashboardsErrors.thresholdsInvalid(source, key, `is not a known threshold (known: ${Object.keys(KINDS).join(', ')})`);
    checkValue(source, key as keyof AlertThresholds, v);
    (out as unknown as Record<string, unknown>)[key] = structuredClone(v);
  }
  return out;
}

/** loadThresholds reads a .json, .yaml or .yml file of overrides. */
export function loadThresholds(file: string): AlertThresholds {
  const text = readFileSync(file, 'utf8');
  let parsed: unknown;
  try {
    parsed = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw dashboardsErrors.thresholdsInvalid(file, '(file)', `is not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(err as Error).message.split('\n')[0]}`);
  }
  return resolveThresholds(parsed, file);
}

/** rttLimitMs gives the p95 limit of one path: exact "src->dst:path", then "src->dst", then the default. */
export function rttLimitMs(t: AlertThresholds, src: string, dst: string, path: string): number {
  return t.rttP95PathMs[`${src}->${dst}:${path}`] ?? t.rttP95PathMs[`${src}->${dst}`] ?? t.rttP95DefaultMs;
}
