import type { MapResponse } from '../netmap/types';

/**
 * The JSON of deeply frozen values (peer entries, a grant's srcIps, a class's peer list), made
 * once: one change can send a thousand deltas holding the same srcIps of thousands of addresses,
 * and serialising it for each of them would cost more than computing every delta. Only values
 * frozen all the way down are kept, so a cached text can never go stale.
 */
const shared = new WeakMap<object, string>();

/** The JSON of v as JSON.stringify gives it (undefined where it gives undefined), and whether it may be kept. */
function valueJson(v: unknown): [string | undefined, boolean] {
  if (v === null || typeof v !== 'object') return [JSON.stringify(v), true];
  const hit = shared.get(v);
  if (hit !== undefined) return [hit, true];
  let out: string;
  let keep = Object.isFrozen(v);
  if (Array.isArray(v)) {
    if (v.length === 0 || v[0] === null || typeof v[0] !== 'object') {
      // Plain values (addresses, ports): JSON.stringify whole; kept if none is an object.
      out = JSON.stringify(v);
      if (keep) keep = v.every((x) => x === null || typeof x !== 'object');
    } else {
      const parts = new Array<string>(v.length);
      for (let i = 0; i < v.length; i++) {
        const [x, k] = valueJson(v[i]);
        parts[i] = x ?? 'null';
        keep &&= k;
      }
      out = `[${parts.join(',')}]`;
    }
  } else if (typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    out = JSON.stringify(v);
    keep = false;
  } else {
    const parts: string[] = [];
    for (const key of Object.keys(v)) {
      const [x, k] = valueJson((v as Record<string, unknown>)[key]);
      keep &&= k;
      if (x !== undefined) parts.push(`${JSON.stringify(key)}:${x}`);
    }
    out = `{${parts.join(',')}}`;
  }
  if (keep) shared.set(v, out);
  return [out, keep];
}

/** mapResponseJson is JSON.stringify(response), with the JSON of deeply frozen parts shared between responses. */
export function mapResponseJson(response: MapResponse): string {
  return valueJson(response)[0] ?? 'null';
}
