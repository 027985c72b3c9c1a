/**
 * The body of a disco "path" message (PROTOCOL.md §2, type 3): the path the deciding node of a
 * pair (the lower node id) chose, sent over that path so the other node adopts it. JSON, small,
 * validated strictly: anything else is refused.
 */

export type PathAnnouncement = { path: 'direct' } | { path: 'relay'; relay: string };

const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function encodePathAnnouncement(a: PathAnnouncement): Buffer {
  return Buffer.from(JSON.stringify(a.path === 'relay' ? { v: 1, path: 'relay', relay: a.relay } : { v: 1, path: 'direct' }));
}

/** decodePathAnnouncement reads a path body; null when it is not a valid one. */
export function decodePathAnnouncement(body: Buffer): PathAnnouncement | null {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  if (o.v !== 1) return null;
  const keys = Object.keys(o).sort().join(',');
  if (o.path === 'direct' && keys === 'path,v') return { path: 'direct' };
  if (o.path === 'relay' && keys === 'path,relay,v' && typeof o.relay === 'string' && NODE_ID.test(o.relay)) return { path: 'relay', relay: o.relay };
  return null;
}
