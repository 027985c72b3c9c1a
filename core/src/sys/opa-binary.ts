/**
 * resolveOpaBinary finds the pinned opa CLI the way plugins/posture-opa does, so `trellis policy
 * test|check` and a policy push use the same binary: $TRELLIS_OPA, else .opa/bin/opa in the nearest
 * enclosing checkout (from the working directory, then from the installed CLI's own files, which is
 * how `trellis` on the PATH finds it from any directory), else `opa` on the PATH.
 */
import { join } from 'node:path';
import { findUpward } from './find-upward';

export interface OpaLookup {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Where the running code lives; default this module's folder. */
  codeDir?: string;
}

export function resolveOpaBinary({ env, cwd, codeDir = __dirname }: OpaLookup): string {
  if (env.TRELLIS_OPA) return env.TRELLIS_OPA;
  return findUpward(join('.opa', 'bin', 'opa'), [cwd, codeDir]) ?? 'opa';
}
