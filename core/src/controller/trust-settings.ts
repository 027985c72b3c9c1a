/**
 * TrustSettings: the controller's abuse limits, audit export and auth key lifetime, read from
 * `controller.settings` of the config file and checked at load (a bad value refuses to start,
 * naming the path). Defaults stop floods while leaving room for legitimate bursts: a lab of 20
 * nodes enrols from 20 addresses at once, and one address may enrol 60 nodes a minute.
 *
 *   controller:
 *     settings:
 *       maxAuthKeyTtl: 30d
 *       audit: { file: /var/log/trellis/audit.jsonl, fileMaxBytes: 10485760, fileKeep: 5, checkpointEvery: 100, checkpointInterval: 5m }
 *       limits: { enrollPerMinute: 60, consoleLoginPerMinute: 10, authFailuresPerMinute: 30, ... }
 */
import { isAbsolute, resolve } from 'node:path';
import { formatDurationText, parseDurationText } from '../config/duration';
import { errors } from '../errors';

export interface AbuseLimits {
  /** Enrolment requests per source address per minute. */
  enrollPerMinute: number;
  /** Console login attempts per source address per minute. */
  consoleLoginPerMinute: number;
  /** Other unauthenticated requests (health, OpenAPI document, console pages) per source per minute. */
  unauthenticatedPerMinute: number;
  /** Failed authentications a source may make in one window; past it every request from it gets 429 until the window ends. */
  authFailuresPerWindow: number;
  /** The failed-authentication window, ms. */
  authFailureWindowMs: number;
  /** Failures per source per window written to the audit log one by one; the rest are counted in one summary entry. */
  auditFailuresPerWindow: number;
  /** Connection event reports per node per minute. */
  nodeEventsPerMinute: number;
  /** Open map streams per node; a new one closes the oldest. */
  streamsPerNode: number;
  /** Concurrent connections the server accepts. */
  maxConnections: number;
  /** Time a client has to send a whole request, ms. */
  requestTimeoutMs: number;
  /** Time a client has to send the request headers, ms. */
  headersTimeoutMs: number;
  /** An idle connection is closed after this long, ms (map streams are pinged well within it). */
  connectionTimeoutMs: number;
}

export interface AuditSettings {
  /** JSON-lines file for a SIEM; null for none. */
  file: string | null;
  fileMaxBytes: number;
  /** Rotated files kept beside the current one (file.1 … file.N). */
  fileKeep: number;
  /** A signed checkpoint follows every this many entries. */
  checkpointEvery: number;
  /** …and at least this often when entries were added, ms. */
  checkpointIntervalMs: number;
}

export interface TrustSettings {
  /** Longest lifetime an auth key may be created with, ms. */
  maxAuthKeyTtlMs: number;
  limits: AbuseLimits;
  audit: AuditSettings;
}

const MINUTE = 60_000;

export const DEFAULT_TRUST_SETTINGS: TrustSettings = {
  maxAuthKeyTtlMs: 30 * 24 * 3600_000,
  limits: {
    enrollPerMinute: 60,
    consoleLoginPerMinute: 10,
    unauthenticatedPerMinute: 600,
    authFailuresPerWindow: 30,
    authFailureWindowMs: MINUTE,
    auditFailuresPerWindow: 10,
    nodeEventsPerMinute: 60,
    streamsPerNode: 2,
    maxConnections: 16_384,
    requestTimeoutMs: 30_000,
    headersTimeoutMs: 10_000,
    connectionTimeoutMs: 120_000,
  },
  audit: { file: null, fileMaxBytes: 10 * 1024 * 1024, fileKeep: 5, checkpointEvery: 100, checkpointIntervalMs: 5 * MINUTE },
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Overrides in code (tests, embedders) with the same shape as the settings, partially. */
export interface TrustSettingsOverride {
  maxAuthKeyTtlMs?: number;
  limits?: Partial<AbuseLimits>;
  audit?: Partial<AuditSettings>;
}

/**
 * parseTrustSettings reads maxAuthKeyTtl, audit and limits from `controller.settings` (other keys
 * belong to other parts); baseDir resolves a relative audit file.
 */
export function parseTrustSettings(settings: Record<string, unknown>, file: string, baseDir: string): TrustSettings {
  const bad = (path: string, what: string) => errors.configInvalid(file, `controller.settings.${path} ${what}`);
  const duration = (path: string, v: unknown, minMs: number, maxMs: number): number => {
    const ms = typeof v === 'string' ? parseDurationText(v) : null;
    if (ms === null) throw bad(path, `${JSON.stringify(v)} is not a duration; write a number with a unit, e.g. 30d, 10s, 5m`);
    if (ms < minMs || ms > maxMs) throw bad(path, `${JSON.stringify(v)} is out of range; use from ${formatDurationText(minMs)} to ${formatDurationText(maxMs)}`);
    return ms;
  };
  const int = (path: string, v: unknown, min: number, max: number): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(path, `${JSON.stringify(v)} must be a whole number from ${min} to ${max}`);
    return v;
  };
  const section = (name: string, known: readonly string[]): Record<string, unknown> => {
    const v = settings[name];
    if (v === undefined) return {};
    if (!isObject(v)) throw bad(name, `must be an object with ${known.join(', ')}`);
    for (const k of Object.keys(v)) if (!known.includes(k)) throw bad(`${name}.${k}`, `is not a known setting (known: ${known.join(', ')})`);
    return v;
  };
  const d = DEFAULT_TRUST_SETTINGS;
  const limits = section('limits', [
    'enrollPerMinute', 'consoleLoginPerMinute', 'unauthenticatedPerMinute', 'authFailuresPerWindow', 'authFailureWindow', 'auditFailuresPerWindow',
    'nodeEventsPerMinute', 'streamsPerNode', 'maxConnections', 'requestTimeout', 'headersTimeout', 'connectionTimeout',
  ]);
  const audit = section('audit', ['file', 'fileMaxBytes', 'fileKeep', 'checkpointEvery', 'checkpointInterval']);
  const n = (k: keyof AbuseLimits, min: number, max: number) => (limits[k] === undefined ? d.limits[k] : int(`limits.${k}`, limits[k], min, max));
  const t = (k: string, def: number, min: number, max: number) => (limits[k] === undefined ? def : duration(`limits.${k}`, limits[k], min, max));
  let auditFile: string | null = null;
  if (audit.file !== undefined && audit.file !== null) {
    if (typeof audit.file !== 'string' || audit.file.trim() === '') throw bad('audit.file', 'must be a file path');
    auditFile = isAbsolute(audit.file) ? audit.file : resolve(baseDir, audit.file);
  }
  return {
    maxAuthKeyTtlMs: settings.maxAuthKeyTtl === undefined ? d.maxAuthKeyTtlMs : duration('maxAuthKeyTtl', settings.maxAuthKeyTtl, 60_000, 3650 * 86_400_000),
    limits: {
      enrollPerMinute: n('enrollPerMinute', 1, 1_000_000),
      consoleLoginPerMinute: n('consoleLoginPerMinute', 1, 10_000),
      unauthenticatedPerMinute: n('unauthenticatedPerMinute', 1, 1_000_000),
      authFailuresPerWindow: n('authFailuresPerWindow', 1, 1_000_000),
      authFailureWindowMs: t('authFailureWindow', d.limits.authFailureWindowMs, 1000, 3600_000),
      auditFailuresPerWindow: n('auditFailuresPerWindow', 1, 10_000),
      nodeEventsPerMinute: n('nodeEventsPerMinute', 1, 100_000),
      streamsPerNode: n('streamsPerNode', 1, 64),
      maxConnections: n('maxConnections', 16, 1_000_000),
      requestTimeoutMs: t('requestTimeout', d.limits.requestTimeoutMs, 1000, 600_000),
      headersTimeoutMs: t('headersTimeout', d.limits.headersTimeoutMs, 1000, 600_000),
      connectionTimeoutMs: t('connectionTimeout', d.limits.connectionTimeoutMs, 10_000, 3600_000),
    },
    audit: {
      file: auditFile,
      fileMaxBytes: audit.fileMaxBytes === undefined ? d.audit.fileMaxBytes : int('audit.fileMaxBytes', audit.fileMaxBytes, 4096, 1024 * 1024 * 1024),
      fileKeep: audit.fileKeep === undefined ? d.audit.fileKeep : int('audit.fileKeep', audit.fileKeep, 1, 1000),
      checkpointEvery: audit.checkpointEvery === undefined ? d.audit.checkpointEvery : int('audit.checkpointEvery', audit.checkpointEvery, 1, 1_000_000),
      checkpointIntervalMs: audit.checkpointInterval === undefined ? d.audit.checkpointIntervalMs : duration('audit.checkpointInterval', audit.checkpointInterval, 1000, 24 * 3600_000),
    },
  };
}

/** withOverride lays code-given settings over parsed ones. */
export function withOverride(base: TrustSettings, o: TrustSettingsOverride | undefined): TrustSettings {
  if (!o) return base;
  return {
    maxAuthKeyTtlMs: o.maxAuthKeyTtlMs ?? base.maxAuthKeyTtlMs,
    limits: { ...base.limits, ...(o.limits ?? {}) },
    audit: { ...base.audit, ...(o.audit ?? {}) },
  };
}
