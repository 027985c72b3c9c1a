/**
 * Deterministic serialization for generated files: object keys sorted at every depth, arrays kept
 * in order, undefined and functions dropped, one trailing newline. Regenerating twice gives the
 * same bytes, so a diff of dashboards/ means a real change.
 */
import { stringify as stringifyYaml } from 'yaml';

export function sortKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v === undefined || typeof v === 'function') continue;
      out[k] = sortKeysDeep(v);
    }
    return out;
  }
  return value;
}

export function stableJson(value: unknown): string {
  return JSON.stringify(sortKeysDeep(value), null, 2) + '\n';
}

export function stableYaml(value: unknown, header: string): string {
  const body = stringifyYaml(sortKeysDeep(value), { lineWidth: 0, sortMapEntries: true });
  return `# ${header}\n${body}`;
}
