/**
 * The store's schema history, written once for both databases. Each step is one function of a
 * SqlDialect: the words SQLite and PostgreSQL spell differently (integer and byte types, an insert
 * that skips existing keys, WITHOUT ROWID) come from the dialect, and the rare part that differs in
 * more than words is written out for each (`d.pick`). Column types mirror each other (TEXT, 64-bit
 * integers, 0/1 flags, JSON as TEXT), so every repository reads the same row shapes from both;
 * test/pg-store.e2e.test.ts compares the two schemas after migrating both.
 * Append new steps; never edit an applied one (its SQL must stay what databases already ran).
 */

/** Migration is one versioned schema step in one dialect; applied versions are recorded in schema_migrations. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** SqlDialect is how one database spells what the schema steps need. */
export interface SqlDialect {
  name: 'sqlite' | 'postgres';
  /** A 64-bit integer column. */
  integer: string;
  /** A byte string column. */
  bytes: string;
  /** After a table whose primary key is all it is looked up by (SQLite stores it as the key). */
  withoutRowid: string;
  /** insertIgnoring turns `INTO t (cols) SELECT …` into an insert that skips rows whose key exists. */
  insertIgnoring(intoSelect: string): string;
  /** pick is this dialect's own text, for a part written differently beyond single words. */
  pick(text: { sqlite: string; postgres: string }): string;
}

interface SchemaStep {
  version: number;
  name: string;
  sql(d: SqlDialect): string;
}

const SCHEMA_STEPS: SchemaStep[] = [
  {
    version: 1,
    name: 'initial',
    sql: (d) => `
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE auth_keys (
  id TEXT PRIMARY KEY,
  secret_hash TEXT NOT NULL,
  tags TEXT NOT NULL,
  owner_user TEXT,
  reusable ${d.integer} NOT NULL,
  uses ${d.integer} NOT NULL DEFAULT 0,
  created_at ${d.integer} NOT NULL,
  expires_at ${d.integer} NOT NULL,
  revoked ${d.integer} NOT NULL DEFAULT 0,
  node_ttl_ms ${d.integer}
);
CREATE TABLE nodes (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  hostname TEXT NOT NULL,
  owner_user TEXT,
  tags TEXT NOT NULL,
  wg_key TEXT NOT NULL,
  identity_key TEXT NOT NULL,
  addr_index ${d.integer} NOT NULL UNIQUE,
  ipv4 TEXT NOT NULL UNIQUE,
  ipv6 TEXT NOT NULL UNIQUE,
  endpoints TEXT NOT NULL,
  auth_key_id TEXT REFERENCES auth_keys(id),
  last_seen ${d.integer},
  created_at ${d.integer} NOT NULL,
  expires_at ${d.integer},
  revoked ${d.integer} NOT NULL DEFAULT 0,
  revoked_at ${d.integer},
  facts TEXT,
  posture TEXT
);
CREATE UNIQUE INDEX nodes_live_name ON nodes(name) WHERE revoked = 0;
CREATE UNIQUE INDEX nodes_live_identity ON nodes(identity_key) WHERE revoked = 0;
CREATE UNIQUE INDEX nodes_live_wg_key ON nodes(wg_key) WHERE revoked = 0;
CREATE TABLE nonces (
  node_id TEXT NOT NULL,
  nonce TEXT NOT NULL,
  expires_at ${d.integer} NOT NULL,
  PRIMARY KEY (node_id, nonce)
)${d.withoutRowid};
CREATE INDEX nonces_expiry ON nonces(expires_at);
CREATE TABLE audit (
  seq ${d.pick({
    sqlite: 'INTEGER PRIMARY KEY AUTOINCREMENT',
    // The store numbers entries itself, under its write lock (pg-audit-repository.ts).
    postgres: 'BIGINT PRIMARY KEY',
  })},
  at ${d.integer} NOT NULL,
  action TEXT NOT NULL,
  actor TEXT NOT NULL,
  target TEXT,
  details TEXT NOT NULL
);
${d.pick({
  sqlite: `CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;`,
  postgres: `CREATE FUNCTION trellis_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit log is append-only';
END;
$$;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit FOR EACH ROW EXECUTE FUNCTION trellis_audit_append_only();
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit FOR EACH ROW EXECUTE FUNCTION trellis_audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION trellis_audit_append_only();`,
})}
`,
  },
  {
    version: 2,
    name: 'identity-approval-policy',
    sql: (d) => `
CREATE TABLE users (
  name TEXT PRIMARY KEY,
  created_at ${d.integer} NOT NULL
);
${d.insertIgnoring(`INTO users (name, created_at)
  SELECT owner_user, MIN(created_at) FROM (
    SELECT owner_user, created_at FROM auth_keys WHERE owner_user IS NOT NULL
    UNION ALL SELECT owner_user, created_at FROM nodes WHERE owner_user IS NOT NULL
  )${d.pick({ sqlite: '', postgres: ' AS owners' })} GROUP BY owner_user`)};
CREATE TABLE groups (
  name TEXT PRIMARY KEY,
  created_at ${d.integer} NOT NULL
);
CREATE TABLE group_members (
  group_name TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
  user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
  added_at ${d.integer} NOT NULL,
  PRIMARY KEY (group_name, user_name)
)${d.withoutRowid};
ALTER TABLE nodes ADD COLUMN approved ${d.integer} NOT NULL DEFAULT 1;
ALTER TABLE nodes ADD COLUMN approved_at ${d.integer};
CREATE TABLE policy_versions (
  version TEXT PRIMARY KEY,
  file TEXT NOT NULL,
  size ${d.integer} NOT NULL,
  source TEXT NOT NULL,
  created_at ${d.integer} NOT NULL
);
CREATE TABLE policy_activations (
  seq ${d.pick({ sqlite: 'INTEGER PRIMARY KEY AUTOINCREMENT', postgres: 'BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY' })},
  version TEXT NOT NULL REFERENCES policy_versions(version),
  at ${d.integer} NOT NULL,
  actor TEXT NOT NULL,
  kind TEXT NOT NULL,
  undone ${d.integer} NOT NULL DEFAULT 0
);
`,
  },
  {
    version: 3,
    name: 'key-lifecycle',
    // node_keys remembers every WireGuard and identity key a node ever held: a rotated-out key is
    // retired, every key of a revoked node is revoked, and neither ever enrolls or registers again.
    sql: (d) => `
ALTER TABLE nodes ADD COLUMN wg_key_created_at ${d.integer};
UPDATE nodes SET wg_key_created_at = created_at;
ALTER TABLE nodes ADD COLUMN identity_expires_at ${d.integer};
ALTER TABLE nodes ADD COLUMN rotate_requested_at ${d.integer};
CREATE TABLE node_keys (
  kind TEXT NOT NULL CHECK (kind IN ('wg', 'identity')),
  key TEXT NOT NULL,
  node_id TEXT NOT NULL,
  added_at ${d.integer} NOT NULL,
  retired_at ${d.integer},
  revoked_at ${d.integer},
  PRIMARY KEY (kind, key)
)${d.withoutRowid};
${d.insertIgnoring(`INTO node_keys (kind, key, node_id, added_at) SELECT 'wg', wg_key, id, created_at FROM nodes WHERE revoked = 0`)};
${d.insertIgnoring(`INTO node_keys (kind, key, node_id, added_at) SELECT 'identity', identity_key, id, created_at FROM nodes WHERE revoked = 0`)};
${d.insertIgnoring(`INTO node_keys (kind, key, node_id, added_at, revoked_at) SELECT 'wg', wg_key, id, created_at, COALESCE(revoked_at, created_at) FROM nodes WHERE revoked = 1`)};
${d.insertIgnoring(`INTO node_keys (kind, key, node_id, added_at, revoked_at) SELECT 'identity', identity_key, id, created_at, COALESCE(revoked_at, created_at) FROM nodes WHERE revoked = 1`)};
`,
  },
  {
    version: 4,
    name: 'audit-chain',
    // Each new audit entry carries the previous entry's hash and its own; the controller appends signed
    // checkpoints (store/audit-chain.ts). Entries from before stay unchained and are digested by the
    // chain's first entry. The append-only triggers stay as they are.
    sql: () => `
ALTER TABLE audit ADD COLUMN prev_hash TEXT;
ALTER TABLE audit ADD COLUMN hash TEXT;
CREATE INDEX audit_at ON audit(at);
CREATE INDEX audit_action ON audit(action);
CREATE INDEX audit_target ON audit(target);
`,
  },
  {
    version: 5,
    name: 'relay-flag',
    // The UDP port a node relays other pairs' WireGuard datagrams on (`trellis up --relay`); NULL: not a relay.
    sql: (d) => `
ALTER TABLE nodes ADD COLUMN relay_port ${d.integer} CHECK (relay_port IS NULL OR (relay_port BETWEEN 1 AND 65535));
`,
  },
  {
    version: 6,
    name: 'shared-store',
    // Several controllers on one (PostgreSQL) store: each records itself and its heartbeat, and which
    // node streams it holds, so every map agrees on who is online; policy bundles are kept in the
    // store so every controller can load the active one. SQLite gets the same schema.
    sql: (d) => `
CREATE TABLE controllers (
  id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  epoch TEXT NOT NULL,
  started_at ${d.integer} NOT NULL,
  heartbeat_at ${d.integer} NOT NULL
);
CREATE TABLE node_streams (
  node_id TEXT NOT NULL,
  controller_id TEXT NOT NULL REFERENCES controllers(id) ON DELETE CASCADE,
  since ${d.integer} NOT NULL,
  PRIMARY KEY (node_id, controller_id)
)${d.withoutRowid};
CREATE INDEX node_streams_controller ON node_streams(controller_id);
ALTER TABLE policy_versions ADD COLUMN bundle ${d.bytes};
CREATE INDEX audit_action_seq ON audit(action, seq);
`,
  },
  {
    version: 7,
    name: 'routes',
    // Subnet routes and exit nodes gateways advertise, and the decision on each (store/route-repository.ts).
    sql: (d) => `
CREATE TABLE routes (
  node_id TEXT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
  prefix TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('subnet', 'exit')),
  priority ${d.integer} NOT NULL CHECK (priority BETWEEN 0 AND 1000),
  check_target TEXT,
  advertised ${d.integer} NOT NULL CHECK (advertised IN (0, 1)),
  status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
  decided_by TEXT,
  decided_at ${d.integer},
  policy_version TEXT,
  advertised_at ${d.integer} NOT NULL,
  updated_at ${d.integer} NOT NULL,
  PRIMARY KEY (node_id, prefix)
);
CREATE INDEX routes_prefix ON routes(prefix);
`,
  },
  {
    version: 8,
    name: 'endpoint-candidates',
    // Each endpoint with its kind and when the node learned it (JSON, candidate version 2); NULL
    // for nodes that reported only addresses, which read as local candidates.
    sql: () => `
ALTER TABLE nodes ADD COLUMN candidates TEXT;
`,
  },
  {
    version: 9,
    name: 'rotation-leases',
    // Until when a node may be between two WireGuard keys, shared by every controller on the store (store/rotation-lease-repository.ts).
    sql: (d) => `
CREATE TABLE rotation_leases (
  node_id TEXT PRIMARY KEY,
  until ${d.integer} NOT NULL
);
`,
  },
];

/** schemaMigrations is the schema history in one dialect, oldest step first. */
export function schemaMigrations(d: SqlDialect): Migration[] {
  return SCHEMA_STEPS.map((s) => ({ version: s.version, name: s.name, sql: s.sql(d) }));
}
