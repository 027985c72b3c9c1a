/**
 * GoBuildInfo is what a Go binary records about its own build (what `go version -m` prints): the
 * toolchain and the main module's version. For wireguard-go built with `go install
 * golang.zx2c4.com/wireguard@<pseudo-version>` the module version names the upstream commit,
 * which `--version` does not; Debian's package was built without module information.
 */
import { promises as fs } from 'node:fs';

export interface GoBuildInfo {
  /** e.g. "go1.26.8" */
  goVersion: string;
  /** Main package path, e.g. "golang.zx2c4.com/wireguard"; null when not recorded. */
  path: string | null;
  /** Main module version, e.g. "v0.0.0-20260522210424-ecfc5a8d5446"; null when not recorded or "(devel)". */
  moduleVersion: string | null;
}

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const HEADER_LEN = 32;
const FLAG_INLINE_STRINGS = 0x2;
/** modinfo is wrapped in two 16-byte sentinels. */
const SENTINEL_LEN = 16;

function readUvarint(buf: Buffer, at: number): { value: number; next: number } | null {
  let value = 0;
  let shift = 0;
  for (let i = at; i < buf.length && i < at + 10; i++) {
    const b = buf[i];
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return { value, next: i + 1 };
    shift += 7;
  }
  return null;
}

function readString(buf: Buffer, at: number): { value: string; next: number } | null {
  const len = readUvarint(buf, at);
  if (!len || len.next + len.value > buf.length) return null;
  return { value: buf.toString('utf8', len.next, len.next + len.value), next: len.next + len.value };
}

/** readBlob finds the build info blob and returns its toolchain version and modinfo text. */
function readBlob(binary: Buffer): { goVersion: string; modinfo: string } | null {
  // The header is 16-byte aligned in the data segment; the first aligned match is it.
  let at = binary.indexOf(MAGIC);
  while (at >= 0 && at % 16 !== 0) at = binary.indexOf(MAGIC, at + 1);
  if (at < 0 || at + HEADER_LEN > binary.length) return null;
  const flags = binary[at + 15];
  if ((flags & FLAG_INLINE_STRINGS) === 0) return null;
  const version = readString(binary, at + HEADER_LEN);
  if (!version) return null;
  const mod = readString(binary, version.next);
  if (!mod) return null;
  const modinfo = mod.value.length >= 2 * SENTINEL_LEN ? mod.value.slice(SENTINEL_LEN, -SENTINEL_LEN) : mod.value;
  return { goVersion: version.value, modinfo };
}

/**
 * parseGoBuildInfo reads the build info of a binary built by Go 1.18 or later (inline strings);
 * null for anything else, including binaries of older toolchains.
 */
export function parseGoBuildInfo(binary: Buffer): GoBuildInfo | null {
  const blob = readBlob(binary);
  if (!blob) return null;
  let path: string | null = null;
  let moduleVersion: string | null = null;
  for (const line of blob.modinfo.split('\n')) {
    const [kind, a, b] = line.split('\t');
    if (kind === 'path') path = a ?? null;
    else if (kind === 'mod' && b !== undefined && b !== '(devel)') moduleVersion = b;
  }
  return { goVersion: blob.goVersion, path, moduleVersion };
}

/**
 * parseGoBuildDependencies lists the module versions a binary was linked with (its `dep` lines,
 * the version a `=>` replacement names when there is one); null when it has no build info.
 */
export function parseGoBuildDependencies(binary: Buffer): Record<string, string> | null {
  const blob = readBlob(binary);
  if (!blob) return null;
  const deps: Record<string, string> = {};
  let last: string | null = null;
  for (const line of blob.modinfo.split('\n')) {
    const [kind, a, b] = line.split('\t');
    if (kind === 'dep' && a && b) {
      deps[a] = b;
      last = a;
    } else if (kind === '=>' && last && b && b !== '(devel)') {
      // A replacement by a local directory (trellis-wg's patched third_party/wireguard-go) has no
      // version of its own ("(devel)"): it stays the required version it patches.
      deps[last] = b;
    }
  }
  return deps;
}

/** readGoBuildInfo reads and parses a binary's build info; null when the file has none. */
export async function readGoBuildInfo(file: string): Promise<GoBuildInfo | null> {
  return parseGoBuildInfo(await fs.readFile(file));
}

const PSEUDO_VERSION_COMMIT = /(?:^v\d+\.\d+\.\d+-|\.)(?:0\.)?\d{14}-([0-9a-f]{12})(?:\+incompatible)?$/;

/** commitOfPseudoVersion is the 12-hex commit a Go pseudo-version names, or null for a release tag. */
export function commitOfPseudoVersion(version: string): string | null {
  return PSEUDO_VERSION_COMMIT.exec(version)?.[1] ?? null;
}
