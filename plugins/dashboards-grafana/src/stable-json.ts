/**
 * Deterministic serialization for generated files: object keys sorted at every depth (core's
 * canonical JSON), arrays kept in order, undefined and functions dropped, one trailing newline.
 * Regenerating twice gives the same bytes, so a diff of dashboards/ means a real change.
 */
import { canonicalJson, sortKeysDeep } from '@trellis/core/api';
import { stringify as stringifyYaml } from 'yaml';

export function stableJson(value: unknown): string {
  return canonicalJson(value, 2) + '\n';
}

export function stableYaml(value: unknown, header: string): string {
  const body = stringifyYaml(sortKeysDeep(value), { lineWidth: 0, sortMapEntries: true });
  return `# ${header}\n${body}`;
}
