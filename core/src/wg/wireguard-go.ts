/**
 * Which wireguard-go binary to run, and which build a running device is. Setup builds the pinned
 * upstream commit into /usr/local/lib/trellis (scripts/install-wireguard-go.sh); when that build
 * is missing the agent falls back to Debian's package, which predates TUN offloads, and says why.
 * An operator can point anywhere with TRELLIS_WIREGUARD_GO.
 */
import { accessSync, constants, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { basename, delimiter, join } from 'node:path';
import { run } from '../sys/run';
import { promises as fs } from 'node:fs';
import { commitOfPseudoVersion, parseGoBuildDependencies, parseGoBuildInfo } from './go-build-info';
import { parseTrellisWgVersion } from './trellis-wg';

/** WIREGUARD_MODULE is upstream wireguard-go's Go module, which trellis-wg links. */
export const WIREGUARD_MODULE = 'golang.zx2c4.com/wireguard';

/** BUNDLED_WIREGUARD_GO is where setup installs the current wireguard-go build. */
export const BUNDLED_WIREGUARD_GO = '/usr/local/lib/trellis/wireguard-go';
/** Setup writes why it could not build the bundled binary into `<bundled>.unavailable`, one line. */
const UNAVAILABLE_SUFFIX = '.unavailable';

function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where the chosen binary came from: a flag or option, TRELLIS_WIREGUARD_GO, the bundled build, or PATH. */
export type WireguardGoSource = 'explicit' | 'env' | 'bundled' | 'path';

export interface WireguardGoChoice {
  path: string;
  source: WireguardGoSource;
  /** Set when PATH's wireguard-go runs because the bundled build is missing: one line saying why. */
  fallback: string | null;
}

/** bundledUnavailableReason says why the bundled build is not there, from what setup recorded. */
export function bundledUnavailableReason(bundled: string = BUNDLED_WIREGUARD_GO): string {
  let recorded = '';
  try {
    recorded = readFileSync(bundled + UNAVAILABLE_SUFFIX, 'utf8').split('\n')[0].trim();
  } catch {
    // setup never tried, or it has not run since the binary was removed
  }
  return `the current build is not installed at ${bundled} (${recorded || 'run scripts/setup.sh to build it'})`;
}

/**
 * chooseWireguardGo picks the binary: explicit path, else $TRELLIS_WIREGUARD_GO, else the bundled
 * build if present, else `wireguard-go` from PATH (as a full path when found, so logs say which).
 */
export function chooseWireguardGo(explicit?: string, bundled: string = BUNDLED_WIREGUARD_GO): WireguardGoChoice {
  if (explicit) return { path: explicit, source: 'explicit', fallback: null };
  const fromEnv = process.env.TRELLIS_WIREGUARD_GO;
  if (fromEnv) return { path: fromEnv, source: 'env', fallback: null };
  if (isExecutable(bundled)) return { path: bundled, source: 'bundled', fallback: null };
  let path = 'wireguard-go';
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'wireguard-go');
    if (isExecutable(candidate)) {
      path = candidate;
      break;
    }
  }
  return { path, source: 'path', fallback: bundledUnavailableReason(bundled) };
}

/** resolveWireguardGo is chooseWireguardGo's path alone. */
export function resolveWireguardGo(explicit?: string): string {
  return chooseWireguardGo(explicit).path;
}

/**
 * wireguardGoVersion runs `<bin> --version` and returns the version it prints, e.g.
 * "v0.0.20220316" (trellis-wg: its own version, e.g. "v0.1.0").
 */
export async function wireguardGoVersion(bin: string): Promise<string> {
  const out = await run(bin, ['--version'], { timeoutMs: 5_000 });
  const own = parseTrellisWgVersion(out);
  if (own) return own;
  const m = /wireguard-go\s+(v?[0-9][^\s]*)/.exec(out);
  return m ? m[1] : out.split('\n')[0].trim();
}

/** WireguardGoBuild identifies one wireguard-go (or trellis-wg) binary. */
export interface WireguardGoBuild {
  /** "trellis-wg" for Trellis's device, else "wireguard-go". */
  implementation: 'trellis-wg' | 'wireguard-go';
  /** What `--version` prints, e.g. "v0.0.20250522" (trellis-wg: its own version); null when it does not run. */
  version: string | null;
  /**
   * The wireguard module version it was built from, e.g. "v0.0.0-20260522210424-ecfc5a8d5446": the
   * main module's for upstream, the linked dependency's for trellis-wg; null for Debian's.
   */
  moduleVersion: string | null;
  /** Upstream commit named by moduleVersion (12 hex), null when the build recorded none. */
  commit: string | null;
  /** Toolchain that built it, e.g. "go1.26.8". */
  goVersion: string | null;
}

/**
 * describeWireguardGo reads a binary's version and build info. Give it /proc/<pid>/exe to
 * describe what a process really runs, even after the file on disk was replaced.
 */
export async function describeWireguardGo(file: string): Promise<WireguardGoBuild> {
  const [version, binary] = await Promise.all([wireguardGoVersion(file).catch(() => null), fs.readFile(file).catch(() => null)]);
  const info = binary ? parseGoBuildInfo(binary) : null;
  const trellisWg = info?.path === 'trellis-wg';
  const moduleVersion = trellisWg ? (parseGoBuildDependencies(binary!)?.[WIREGUARD_MODULE] ?? null) : (info?.moduleVersion ?? null);
  return {
    implementation: trellisWg ? 'trellis-wg' : 'wireguard-go',
    version,
    moduleVersion,
    commit: moduleVersion ? commitOfPseudoVersion(moduleVersion) : null,
    goVersion: info?.goVersion ?? null,
  };
}

/**
 * findWireguardGoPid finds the wireguard-go or trellis-wg process serving iface (`wireguard-go [-f] <iface>`),
 * for a device the agent adopted rather than started. Interface names are unique on the machine
 * because the UAPI socket directory is shared by every network namespace.
 */
export function findWireguardGoPid(iface: string): number | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
    } catch {
      continue;
    }
    if (argv.length < 2 || argv.length > 3 || argv[argv.length - 1] !== iface) continue;
    if (argv.length === 3 && argv[1] !== '-f' && argv[1] !== '--foreground') continue;
    const bin = basename(argv[0]);
    if (!bin.includes('wireguard') && bin !== 'trellis-wg') continue;
    return Number(entry);
  }
  return null;
}

/** executableOf is the path a process runs from (without the " (deleted)" the kernel adds), or null. */
export function executableOf(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '');
  } catch {
    return null;
  }
}
