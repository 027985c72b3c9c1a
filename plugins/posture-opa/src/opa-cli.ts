/**
 * The real `opa` CLI, for compiling and testing policies (on the controller or in CI; agents only
 * evaluate). Refusals carry opa's own message, so a policy author sees the compiler's words.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { findOpaBinary } from '@trellis/core/api';
import { policyErrors } from './errors';
import { policyVersion } from './policy-bundle';

/** The entrypoints the shipped policies compile to wasm (see policies/README.md). */
export const POLICY_ENTRYPOINTS = [
  'trellis/access/decision',
  'trellis/access/allow',
  'trellis/access/netmap',
  'trellis/access/netmaps',
  'trellis/access/errors',
  'trellis/access/node_errors',
  'trellis/access/grants',
  'trellis/posture/decision',
  'trellis/posture/compliant',
] as const;

/**
 * Entrypoints compiled in when the policy defines them; a policy without them still builds.
 * trellis/access/node_reads lets the controller evaluate grants per class of alike nodes
 * (node-classes.ts); trellis/access/build_decision_index is evaluated once per data document
 * (wasm-evaluator.ts PREPARED_DATA) so a decision looks rules up instead of scanning them, and so
 * is trellis/posture/build_posture_index (minimum versions parsed, process lists as lookups).
 */
export const OPTIONAL_POLICY_ENTRYPOINTS = [
  'trellis/access/node_reads',
  'trellis/access/build_decision_index',
  'trellis/posture/build_posture_index',
  'trellis/routes/auto_approve',
  'trellis/topology/topology',
  'trellis/topology/errors',
] as const;

export interface OpaCliOptions {
  /** Path of the opa binary; default resolveOpaBinary(). */
  opaPath?: string;
  /** Entrypoints to compile; default POLICY_ENTRYPOINTS. */
  entrypoints?: readonly string[];
  /** Where to write the bundle; default <dir>/dist/bundle.tgz. */
  outFile?: string;
  /** Kill opa after this long, ms; default 120000. */
  timeoutMs?: number;
}

export interface CompiledPolicies {
  bundlePath: string;
  /** sha256 of the bundle: the policy version id. */
  version: string;
}

/**
 * resolveOpaBinary finds the pinned opa the way `trellis policy test` does (core's lookup):
 * $TRELLIS_OPA, else .opa/bin/opa in the nearest enclosing repo (from the working directory, then
 * from this file), else `opa` on PATH.
 */
export function resolveOpaBinary(): string {
  return findOpaBinary({ env: process.env, cwd: process.cwd(), codeDir: __dirname });
}

interface RunResult {
  code: number;
  output: string;
}

function runOpa(opa: string, args: string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    execFile(opa, args, { maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs }, (err, stdout, stderr) => {
      const output = [stdout, stderr].filter((s) => s.trim() !== '').join('\n');
      if (!err) return resolvePromise({ code: 0, output });
      const e = err as NodeJS.ErrnoException & { code?: unknown; killed?: boolean };
      if (e.code === 'ENOENT' || e.code === 'EACCES') return reject(policyErrors.opaMissing(opa, String(e.code)));
      if (e.killed) return resolvePromise({ code: -1, output: `${output}\nopa was stopped after ${timeoutMs} ms` });
      resolvePromise({ code: typeof e.code === 'number' ? e.code : 1, output });
    });
  });
}

/**
 * bundleRoots: each domain folder (access/, posture/) is a bundle root, so its data.json lands at
 * the data root (data.trellis...). A folder holding .rego files directly is one root itself.
 */
async function bundleRoots(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    throw policyErrors.compileFailed(dir, `cannot read the folder (${err.code ?? err.message})`);
  });
  if (entries.some((e) => e.isFile() && e.name.endsWith('.rego'))) return [dir];
  const roots: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || e.name === 'dist' || e.name.startsWith('.')) continue;
    const inner = await readdir(join(dir, e.name));
    if (inner.some((n) => n.endsWith('.rego'))) roots.push(join(dir, e.name));
  }
  if (roots.length === 0) throw policyErrors.compileFailed(dir, 'no .rego files found in it or its immediate subfolders');
  return roots.sort();
}

/** compilePolicies builds a wasm bundle with the real opa and returns where it is and its version. */
export async function compilePolicies(dir: string, opts: OpaCliOptions = {}): Promise<CompiledPolicies> {
  const opa = opts.opaPath ?? resolveOpaBinary();
  const roots = await bundleRoots(dir);
  const bundlePath = opts.outFile ?? join(dir, 'dist', 'bundle.tgz');
  await mkdir(dirname(bundlePath), { recursive: true });
  const build = (entrypoints: readonly string[]) => {
    const args = ['build', '-t', 'wasm', '--ignore', '*_test.rego'];
    for (const ep of entrypoints) args.push('-e', ep);
    args.push('-o', bundlePath, ...roots);
    return runOpa(opa, args, opts.timeoutMs ?? 120_000);
  };
  let { code, output } = await build(opts.entrypoints ?? [...POLICY_ENTRYPOINTS, ...OPTIONAL_POLICY_ENTRYPOINTS]);
  // opa names one missing entrypoint at a time: drop each missing optional one and build again.
  const missingOptional = new Set<string>();
  while (code !== 0 && !opts.entrypoints) {
    const more = OPTIONAL_POLICY_ENTRYPOINTS.filter((ep) => !missingOptional.has(ep) && output.includes(`entrypoint "${ep}" does not refer to a rule`));
    if (more.length === 0) break;
    for (const ep of more) missingOptional.add(ep);
    ({ code, output } = await build([...POLICY_ENTRYPOINTS, ...OPTIONAL_POLICY_ENTRYPOINTS.filter((ep) => !missingOptional.has(ep))]));
  }
  if (code !== 0) throw policyErrors.compileFailed(dir, output || `opa build exited with ${code}`);
  return { bundlePath, version: policyVersion(await readFile(bundlePath)) };
}

/** testPolicies runs `opa test` on dir; it resolves with opa's output when every test passes. */
export async function testPolicies(dir: string, opts: Pick<OpaCliOptions, 'opaPath' | 'timeoutMs'> = {}): Promise<string> {
  const opa = opts.opaPath ?? resolveOpaBinary();
  const { code, output } = await runOpa(opa, ['test', dir], opts.timeoutMs ?? 120_000);
  if (code !== 0) throw policyErrors.testsFailed(dir, output || `opa test exited with ${code}`);
  return output;
}
