/**
 * Host implementations of the Rego builtins our policies use that OPA's wasm target leaves to the
 * host: semver.compare and time.now_ns. They follow the opa CLI's behaviour, including its "v"
 * prefix and returning undefined (no value) for an invalid version, as non-strict opa does.
 */

/** WallClock returns the current time in unix milliseconds. */
export type WallClock = () => number;

interface SemverParts {
  major: bigint;
  minor: bigint;
  patch: bigint;
  prerelease: string[];
}

// SemVer 2.0.0's grammar, with the optional leading "v" that OPA accepts.
const SEMVER =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** parseSemver returns null for anything that is not a SemVer 2.0.0 version. */
export function parseSemver(v: unknown): SemverParts | null {
  if (typeof v !== 'string') return null;
  const m = SEMVER.exec(v);
  if (!m) return null;
  return { major: BigInt(m[1]!), minor: BigInt(m[2]!), patch: BigInt(m[3]!), prerelease: m[4] ? m[4].split('.') : [] };
}

function cmp<T>(a: T, b: T): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}

function comparePrereleaseId(a: string, b: string): -1 | 0 | 1 {
  const an = /^\d+$/.test(a);
  const bn = /^\d+$/.test(b);
  if (an && bn) return cmp(BigInt(a), BigInt(b));
  if (an) return -1; // numeric identifiers have lower precedence
  if (bn) return 1;
  return cmp(a, b);
}

/** semverCompare is semver.compare: -1, 0 or 1 by SemVer precedence; undefined when either is invalid. */
export function semverCompare(a: unknown, b: unknown): -1 | 0 | 1 | undefined {
  const x = parseSemver(a);
  const y = parseSemver(b);
  if (!x || !y) return undefined;
  const core = cmp(x.major, y.major) || cmp(x.minor, y.minor) || cmp(x.patch, y.patch);
  if (core !== 0) return core;
  if (x.prerelease.length === 0 || y.prerelease.length === 0) {
    // A version without a pre-release ranks above one with it.
    return cmp(y.prerelease.length, x.prerelease.length);
  }
  for (let i = 0; i < Math.min(x.prerelease.length, y.prerelease.length); i++) {
    const c = comparePrereleaseId(x.prerelease[i]!, y.prerelease[i]!);
    if (c !== 0) return c;
  }
  return cmp(x.prerelease.length, y.prerelease.length);
}

/**
 * A builtin implementation as opa-wasm calls it: JSON values in, a JSON value (or undefined) out.
 * An ArrayBuffer result is taken as JSON text and copied in as is (opa-wasm's loadJSON).
 */
export type BuiltinImpl = (...args: unknown[]) => unknown;

/**
 * OpaHostBuiltins holds the host builtins for one policy instance. time.now_ns reads the clock once
 * per query, like OPA, so every rule in one evaluation sees the same instant.
 */
export class OpaHostBuiltins {
  /** The clock reading (whole ms) of the current query, once read. */
  private queryMs: number | null = null;
  /** The clock reading (ms) whose JSON text nowNsJson last encoded, and that text. */
  private encodedMs = Number.NaN;
  private encodedNs: ArrayBuffer = new ArrayBuffer(0);

  constructor(private readonly clock: WallClock = Date.now) {}

  /** beginQuery starts a new evaluation: the next time.now_ns reads the clock again. */
  beginQuery(): void {
    this.queryMs = null;
  }

  /** The builtins by Rego name, for opa-wasm's loadPolicy. */
  get implementations(): Record<string, BuiltinImpl> {
    return {
      'semver.compare': (a, b) => semverCompare(a, b),
      'time.now_ns': () => this.nowNsJson(),
    };
  }

  /** nowNs is time.now_ns: unix nanoseconds (at millisecond resolution), fixed for one query. */
  nowNs(): number {
    return this.nowMs() * 1_000_000;
  }

  private nowMs(): number {
    if (this.queryMs === null) this.queryMs = Math.round(this.clock());
    return this.queryMs;
  }

  /**
   * nowNsJson is nowNs as JSON text, the exact integer (ms and six zeros, which a double cannot
   * always hold). Handing opa-wasm the bytes spares it a JSON.stringify and a new TextEncoder on
   * every call; the text is encoded again only when the clock has moved to another millisecond.
   */
  nowNsJson(): ArrayBuffer {
    const ms = this.nowMs();
    if (ms !== this.encodedMs) {
      const text = ms === 0 ? '0' : Number.isSafeInteger(ms) ? `${ms}000000` : JSON.stringify(ms * 1_000_000);
      const bytes = new Uint8Array(new ArrayBuffer(text.length));
      for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
      this.encodedNs = bytes.buffer;
      this.encodedMs = ms;
    }
    return this.encodedNs;
  }
}
