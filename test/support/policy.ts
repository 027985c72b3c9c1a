/**
 * Policy fixtures for lab tests: the standard Rego under policies/ with a fixture folder's files
 * (usually data.json) on top, pushed through the admin API as `trellis policy push` does.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Lab } from '../../core/src/lab/lab';

const POLICIES = resolve(__dirname, '..', '..', 'policies');

function walk(dir: string, into: Record<string, string>, root: string, keep: (rel: string) => boolean): void {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    const rel = relative(root, full);
    if (statSync(full).isDirectory()) {
      if (name !== 'dist') walk(full, into, root, keep);
    } else if (keep(rel)) into[rel] = readFileSync(full, 'utf8');
  }
}

/** policyFiles: policies/<domain>/*.rego and data.json, overlaid with every file of the fixture folder (but its README). */
export function policyFiles(fixtureDir: string): Record<string, string> {
  const files: Record<string, string> = {};
  walk(POLICIES, files, POLICIES, (rel) => rel.includes('/') && (rel.endsWith('.rego') || rel.endsWith('.json')));
  walk(fixtureDir, files, fixtureDir, (rel) => !rel.endsWith('.md'));
  return files;
}

/** pushPolicy activates the fixture policy on the lab's controller and returns its version. */
export async function pushPolicy(lab: Lab, fixtureDir: string): Promise<string> {
  const res = await lab.adminFetch('/v1/admin/policy', {
    method: 'POST',
    body: JSON.stringify({ files: policyFiles(fixtureDir), source: fixtureDir }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`policy push of ${fixtureDir} answered ${res.status}: ${text.slice(0, 500)}`);
  return (JSON.parse(text) as { version: string }).version;
}
