/**
 * KeyPolicy: the controller's key settings (`controller.settings` of the config file), checked at
 * load, and what they mean for one node. A node with several tags that name a value gets the
 * shortest, so adding a stricter tag never loosens anything.
 *
 *   controller:
 *     settings:
 *       keyRotation: { default: 30d, grace: 1d, tags: { "tag:server": 7d } }
 *       keyExpiry: { default: never, tags: { "tag:laptop": 180d } }
 *       identityLifetime: 90d
 */
import { formatDurationText, parseDurationText } from '../config/duration';
import { errors } from '../errors';
import type { NodeKeyLifetimes } from '../store/store';

const DAY = 86_400_000;
/** Shortest interval or lifetime accepted: short enough for tests and labs, long enough to mean something. */
export const MIN_KEY_DURATION_MS = 10_000;
const MAX_KEY_DURATION_MS = 10 * 365 * DAY;
const TAG = /^[A-Za-z0-9][A-Za-z0-9:_.-]*$/;

export interface KeyPolicy {
  rotation: { defaultMs: number; graceMs: number; tags: Readonly<Record<string, number>> };
  /** Node key expiry from enrolment when the auth key names none; null = never. */
  expiry: { defaultMs: number | null; tags: Readonly<Record<string, number>> };
  identityLifetimeMs: number;
}

export const DEFAULT_KEY_POLICY: KeyPolicy = Object.freeze({
  rotation: Object.freeze({ defaultMs: 30 * DAY, graceMs: DAY, tags: Object.freeze({}) }),
  expiry: Object.freeze({ defaultMs: null, tags: Object.freeze({}) }),
  identityLifetimeMs: 90 * DAY,
});

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * parseKeyPolicy reads the key settings from `controller.settings`; anything else in settings is
 * left to its owner. A zero, negative, too short or malformed value throws CONFIG_INVALID naming
 * the path, so a bad file never starts a controller with half of it.
 */
export function parseKeyPolicy(settings: Record<string, unknown>, file: string): KeyPolicy {
  const bad = (path: string, what: string) => errors.configInvalid(file, `controller.settings.${path} ${what}`);
  const duration = (path: string, v: unknown, minMs = MIN_KEY_DURATION_MS): number => {
    const ms = typeof v === 'string' ? parseDurationText(v) : null;
    if (ms === null) {
      throw bad(path, `${JSON.stringify(v)} is not a duration; write a number with a unit, e.g. 30d, 12h, 90m`);
    }
    if (ms < minMs || ms > MAX_KEY_DURATION_MS) {
      throw bad(path, `${JSON.stringify(v)} is out of range; use from ${minMs === 0 ? '0s' : formatDurationText(minMs)} to 3650d`);
    }
    return ms;
  };
  const section = (name: string, known: string[]): Record<string, unknown> | null => {
    const v = settings[name];
    if (v === undefined) return null;
    if (!isObject(v)) throw bad(name, `must be an object with ${known.join(', ')}`);
    for (const k of Object.keys(v)) if (!known.includes(k)) throw bad(`${name}.${k}`, `is not a known setting (known: ${known.join(', ')})`);
    return v;
  };
  const tags = (path: string, v: unknown): Record<string, number> => {
    if (v === undefined) return {};
    if (!isObject(v)) throw bad(path, 'must map tags to durations, e.g. { "tag:server": 7d }');
    const out: Record<string, number> = {};
    for (const [tag, d] of Object.entries(v)) {
      if (!TAG.test(tag) || tag.length > 64) throw bad(`${path}.${tag}`, 'is not a tag name (letters, digits, ":", "_", ".", "-")');
      out[tag] = duration(`${path}.${tag}`, d);
    }
    return out;
  };

  const rotation = section('keyRotation', ['default', 'grace', 'tags']);
  const expiry = section('keyExpiry', ['default', 'tags']);
  const lifetime = settings.identityLifetime;
  const expiryDefault = expiry?.default;
  return {
    rotation: {
      defaultMs: rotation?.default === undefined ? DEFAULT_KEY_POLICY.rotation.defaultMs : duration('keyRotation.default', rotation.default),
      graceMs: rotation?.grace === undefined ? DEFAULT_KEY_POLICY.rotation.graceMs : duration('keyRotation.grace', rotation.grace, 0),
      tags: tags('keyRotation.tags', rotation?.tags),
    },
    expiry: {
      defaultMs: expiryDefault === undefined || expiryDefault === null || expiryDefault === 'never' ? null : duration('keyExpiry.default', expiryDefault),
      tags: tags('keyExpiry.tags', expiry?.tags),
    },
    identityLifetimeMs: lifetime === undefined ? DEFAULT_KEY_POLICY.identityLifetimeMs : duration('identityLifetime', lifetime),
  };
}

function shortestByTag(byTag: Readonly<Record<string, number>>, tags: readonly string[]): number | null {
  let best: number | null = null;
  for (const t of tags) {
    const v = byTag[t];
    if (v !== undefined && (best === null || v < best)) best = v;
  }
  return best;
}

/** rotationIntervalFor is how often a node with these tags rotates its WireGuard key, ms. */
export function rotationIntervalFor(p: KeyPolicy, tags: readonly string[]): number {
  return shortestByTag(p.rotation.tags, tags) ?? p.rotation.defaultMs;
}

/** keyExpiryFor is the node key expiry from enrolment for these tags, ms; null = never. */
export function keyExpiryFor(p: KeyPolicy, tags: readonly string[]): number | null {
  return shortestByTag(p.expiry.tags, tags) ?? p.expiry.defaultMs;
}

/** lifetimesFor is what enrolment needs to know for a node with these tags. */
export function lifetimesFor(p: KeyPolicy, tags: readonly string[]): NodeKeyLifetimes {
  return { nodeTtlMs: keyExpiryFor(p, tags), identityLifetimeMs: p.identityLifetimeMs };
}
