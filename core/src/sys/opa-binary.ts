/**
 * resolveOpaBinary finds the pinned opa CLI the way plugins/posture-opa does, so `trellis policy
 * test|check` and a policy push use the same binary: $TRELLIS_OPA, else .opa/bin/opa in the nearest
 * enclosing checkout (from the working directory, then from the installed CLI's own files, which is
 * how `trellis` on the PATH finds it from any directory), else `opa` on the PATH.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export interface OpaLookup {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Where the running code lives; default this module's folder. */
  codeDir?: string;
}

export function resolveOpaBinary({ env, cwd, codeDir = __dirname }: OpaLookup): string {
  if (env.TRELLIS_OPA) return env.TRELLIS_OPA;
  for (const start of [cwd, codeDir]) {
    let dir = resolve(start);
    for (;;) {
      const candidate = join(dir, '.opa', 'bin', 'opa');
      if (existsSync(candidate)) return candidate;
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return 'opa';
}
