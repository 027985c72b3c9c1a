/**
 * findUpward finds a file a checkout carries (the pinned opa, the built policy bundle) from where
 * Trellis runs: in each start directory and its parents, the first that has it wins.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export function findUpward(relativePath: string, starts: readonly string[]): string | null {
  for (const start of starts) {
    let dir = resolve(start);
    for (;;) {
      const candidate = join(dir, relativePath);
      if (existsSync(candidate)) return candidate;
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return null;
}
