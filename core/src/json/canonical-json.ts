/**
 * canonicalJson is JSON whose object keys are sorted at every depth, so equal values always give
 * the same text: for digests (posture inputs), for comparing values (facts already reported), and
 * for generated files that must not change when regenerated (dashboards). Values are serialized as
 * JSON.stringify does (toJSON applied, undefined and functions left out of objects).
 */

function sortedKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).sort()) out[k] = (value as Record<string, unknown>)[k];
  return out;
}

/** canonicalJson serializes value with sorted keys; indent as JSON.stringify's space argument. */
export function canonicalJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, sortedKeys, indent) ?? 'null';
}

/** sortKeysDeep is value as plain data with sorted keys (for serializers other than JSON, such as YAML). */
export function sortKeysDeep(value: unknown): unknown {
  return JSON.parse(canonicalJson(value)) as unknown;
}
