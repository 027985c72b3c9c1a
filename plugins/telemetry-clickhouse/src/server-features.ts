/**
 * What the connected ClickHouse can do, from `SELECT version()`. The DDL generator and the insert
 * path take this set, so the same plugin runs on Debian's 18.16 and on current releases.
 */
export interface ServerFeatures {
  version: string;
  /** LowCardinality(String) columns: GA in 19.0 (18.12 had it behind an experimental flag). */
  lowCardinality: boolean;
  /** Table TTL (TTL ts + INTERVAL n DAY): 19.6. */
  ttl: boolean;
  /** Server-side insert buffering (async_insert=1): 21.11. */
  asyncInsert: boolean;
}

function parse(version: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(version.trim());
  if (!m) return [0, 0];
  return [Number(m[1]), Number(m[2])];
}

const atLeast = (v: [number, number], major: number, minor: number) => v[0] > major || (v[0] === major && v[1] >= minor);

export function featuresForVersion(version: string): ServerFeatures {
  const v = parse(version);
  return {
    version: version.trim(),
    lowCardinality: atLeast(v, 19, 0),
    ttl: atLeast(v, 19, 6),
    asyncInsert: atLeast(v, 21, 11),
  };
}

/** Debian bookworm's clickhouse-server: none of the optional features. */
export const FEATURES_18_16 = featuresForVersion('18.16.1');
/** A current release: all of them. */
export const FEATURES_CURRENT = featuresForVersion('24.8.1.1');
