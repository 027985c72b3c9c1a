/**
 * Policy bundles: the gzip'd tar that `opa build -t wasm` writes (policy.wasm, data.json,
 * .manifest; named bundle.tgz in policies/dist), or a bare policy.wasm. The version id is the
 * sha256 of the bytes loaded, so every node can report exactly which policy decided its posture.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { policyErrors } from './errors';
import { readTar } from './tar-reader';

export interface PolicyBundle {
  /** sha256 (hex) of the bundle bytes: the policy version id. */
  version: string;
  /** The compiled policy module. */
  wasm: Buffer;
  /** The bundle's data document (data.json at the bundle root); {} for a bare wasm file. */
  data: Record<string, unknown>;
  /** Entrypoints listed in the bundle manifest; [] when there is none (ask the loaded policy). */
  entrypoints: string[];
  /** Where the bundle came from, for messages. */
  source: string;
}

const WASM_MAGIC = Buffer.from([0x00, 0x61, 0x73, 0x6d]);

/** policyVersion is the version id of a bundle: the sha256 of its bytes, in hex. */
export function policyVersion(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJson(text: string, source: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw policyErrors.bundleInvalid(source, `${what} is not valid JSON (${(err as Error).message})`);
  }
}

/** parsePolicyBundle reads a bundle (gzip'd tar) or a bare wasm module from memory. */
export function parsePolicyBundle(bytes: Buffer, source: string): PolicyBundle {
  const version = policyVersion(bytes);
  if (bytes.subarray(0, 4).equals(WASM_MAGIC)) {
    return { version, wasm: bytes, data: {}, entrypoints: [], source };
  }
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) {
    throw policyErrors.bundleInvalid(source, 'is neither a gzip-compressed bundle (opa build -t wasm) nor a wasm module');
  }
  let files: Map<string, Buffer>;
  try {
    files = new Map(readTar(gunzipSync(bytes)).map((e) => [e.path, e.content]));
  } catch (err) {
    throw policyErrors.bundleInvalid(source, `cannot be unpacked (${(err as Error).message})`);
  }
  const wasm = files.get('policy.wasm');
  if (!wasm) {
    throw policyErrors.bundleInvalid(source, `has no policy.wasm (it holds: ${[...files.keys()].join(', ') || 'nothing'}); build it with -t wasm`);
  }
  const dataText = files.get('data.json');
  const data = dataText ? parseJson(dataText.toString('utf8'), source, 'data.json') : {};
  if (!isPlainObject(data)) throw policyErrors.bundleInvalid(source, 'data.json is not a JSON object');
  const manifestText = files.get('.manifest');
  const manifest = manifestText ? parseJson(manifestText.toString('utf8'), source, '.manifest') : {};
  const wasmList = isPlainObject(manifest) && Array.isArray(manifest.wasm) ? (manifest.wasm as unknown[]) : [];
  const entrypoints = wasmList
    .map((w) => (isPlainObject(w) && typeof w.entrypoint === 'string' ? w.entrypoint : null))
    .filter((x): x is string => x !== null);
  return { version, wasm, data, entrypoints, source };
}

/** loadPolicyBundle reads a bundle.tgz or policy.wasm from disk. */
export async function loadPolicyBundle(path: string): Promise<PolicyBundle> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw policyErrors.bundleInvalid(path, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parsePolicyBundle(bytes, path);
}
