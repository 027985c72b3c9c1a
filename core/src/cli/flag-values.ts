/**
 * Validators for flag values. Each returns the parsed value or throws a UsageError naming the flag
 * and what a good value looks like.
 */
import { formatDurationText, parseDurationText } from '../config/duration';
import { UsageError } from './usage-error';

const BARE_UNIT_MS = { ms: 1, s: 1000 } as const;

/** parseDuration reads `1h`, `30m`, `3600s`, `250ms`, `1h30m` (or a bare number with defaultUnit) into ms. */
export function parseDuration(flag: string, value: string, command: string, defaultUnit?: 'ms' | 's'): number {
  const v = value.trim();
  if (defaultUnit !== undefined && /^\d+(\.\d+)?$/.test(v)) return Number(v) * BARE_UNIT_MS[defaultUnit];
  const ms = parseDurationText(v);
  if (ms === null) throw new UsageError(`${flag} "${value}" is not a duration; use a number with a unit, e.g. 30s, 5m, 1h, 250ms`, command);
  return ms;
}

/** parseDurationInRange is parseDuration with bounds, e.g. a TTL of at least one second. */
export function parseDurationInRange(flag: string, value: string, command: string, minMs: number, maxMs: number): number {
  const ms = parseDuration(flag, value, command);
  if (ms < minMs || ms > maxMs) {
    throw new UsageError(`${flag} "${value}" is out of range; use between ${formatDurationText(minMs)} and ${formatDurationText(maxMs)}`, command);
  }
  return ms;
}

/** parsePort reads a UDP/TCP port 1..65535. */
export function parsePort(flag: string, value: string, command: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535) {
    throw new UsageError(`${flag} "${value}" is not a port; use a number from 1 to 65535`, command);
  }
  return Number(value);
}

/** parseInteger reads a whole number within [min, max]. */
export function parseInteger(flag: string, value: string, command: string, min: number, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`${flag} "${value}" must be a whole number from ${min} to ${max}`, command);
  }
  return Number(value);
}

const IFACE = /^[a-zA-Z0-9_-]{1,15}$/;

/** parseIface checks a Linux interface name: 1..15 chars of letters, digits, _ and -. */
export function parseIface(flag: string, value: string, command: string): string {
  if (!IFACE.test(value)) {
    const why = value.length > 15 ? `is ${value.length} characters long (at most 15)` : 'may only hold letters, digits, _ and -';
    throw new UsageError(`${flag} "${value}" ${why}`, command);
  }
  return value;
}

const TAG = /^[a-z0-9][a-z0-9-]*$/;

/** parseTags splits a comma list of tags; each must match ^[a-z0-9][a-z0-9-]*$. */
export function parseTags(flag: string, value: string, command: string): string[] {
  const tags = value
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  for (const t of tags) {
    if (!TAG.test(t)) {
      throw new UsageError(`${flag}: tag "${t}" is invalid; tags are lower-case letters, digits and -, starting with a letter or digit`, command);
    }
  }
  return [...new Set(tags)];
}

const NODE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** parseNodeName checks a node name: lower-case letters, digits and -, up to 63 chars (a DNS label). */
export function parseNodeName(flag: string, value: string, command: string): string {
  if (!NODE_NAME.test(value)) {
    throw new UsageError(`${flag} "${value}" is not a valid node name; use lower-case letters, digits and - (not at either end), up to 63 characters`, command);
  }
  return value;
}

/** parseHostPort checks host:port (an IPv6 host in brackets) and returns it unchanged. */
export function parseHostPort(flag: string, value: string, command: string): string {
  const m = /^(\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9.-]+):(\d+)$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new UsageError(`${flag} "${value}" is not host:port, e.g. 127.0.0.1:8080 or [::1]:8080`, command);
  }
  return value;
}

/** parseUrl checks an http(s) URL and returns it without a trailing slash. */
export function parseUrl(flag: string, value: string, command: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UsageError(`${flag} "${value}" is not a URL, e.g. http://127.0.0.1:8080`, command);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new UsageError(`${flag} "${value}" must be an http:// or https:// URL`, command);
  }
  return value.replace(/\/+$/, '');
}
