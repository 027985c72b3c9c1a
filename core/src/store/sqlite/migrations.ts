/** The SQLite schema: its versioned steps and the runner that applies them. */
import type Database from 'better-sqlite3';
import { errors } from '../../errors';

/** Migration is one versioned schema step; applied versions are recorded in schema_migrations. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The SQLite schema history. Append new steps; never edit an applied one. */
export const SQLITE_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE auth_keys (
  id TEXT PRIMARY KEY,
  secret_hash TEXT NOT NULL,
  tags TEXT NOT NULL,
  owner_user TEXT,
  reusable INTEGER NOT NULL,
  uses INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0,
  node_ttl_ms INTEGER
);
CREATE TABLE nodes (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  hostname TEXT NOT NULL,
  owner_user TEXT,
  tags TEXT NOT NULL,
  wg_key TEXT NOT NULL,
  identity_key TEXT NOT NULL,
  addr_index INTEGER NOT NULL UNIQUE,
  ipv4 TEXT NOT NULL UNIQUE,
  ipv6 TEXT NOT NULL UNIQUE,
  endpoints TEXT NOT NULL,
  auth_key_id TEXT REFERENCES auth_keys(id),
  last_seen INTEGER,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked INTEGER NOT NULL DEFAULT 0,
  revoked_at INTEGER,
  facts TEXT,
  posture TEXT
);
CREATE UNIQUE INDEX nodes_live_name ON nodes(name) WHERE revoked = 0;
CREATE UNIQUE INDEX nodes_live_identity ON nodes(identity_key) WHERE revoked = 0;
CREATE UNIQUE INDEX nodes_live_wg_key ON nodes(wg_key) WHERE revoked = 0;
CREATE TABLE nonces (
  node_id TEXT NOT NULL,
  nonce TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (node_id, nonce)
) WITHOUT ROWID;
CREATE INDEX nonces_expiry ON nonces(expires_at);
CREATE TABLE audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  action TEXT NOT NULL,
  actor TEXT NOT NULL,
  target TEXT,
  details TEXT NOT NULL
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
`,
  },
  {
    version: 2,
    name: 'identity-approval-policy',
    sql: `
CREATE TABLE users (
  name TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL
);
INSERT OR IGNORE INTO users (name, created_at)
  SELECT owner_user, MIN(created_at) FROM (
    SELECT owner_user, created_at FROM auth_keys WHERE owner_user IS NOT NULL
    UNION ALL SELECT owner_user, created_at FROM nodes WHERE owner_user IS NOT NULL
  ) GROUP BY owner_user;
CREATE TABLE groups (
  name TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL
);
CREATE TABLE group_members (
  group_name TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
  user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
  added_at INTEGER NOT NULL,
  PRIMARY KEY (group_name, user_name)
) WITHOUT ROWID;
ALTER TABLE nodes ADD COLUMN approved INTEGER NOT NULL DEFAULT 1;
ALTER TABLE nodes ADD COLUMN approved_at INTEGER;
CREATE TABLE policy_versions (
  version TEXT PRIMARY KEY,
  file TEXT NOT NULL,
  size INTEGER NOT NULL,
  source TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE policy_activations (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  version TEXT NOT NULL REFERENCES policy_versions(version),
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  kind TEXT NOT NULL,
  undone INTEGER NOT NULL DEFAULT 0
);
`,
  },
  {
    version: 3,
    name: 'key-lifecycle',
    // node_keys remembers every WireGuard and identity key a node ever held: a rotated-out key is
    // retired, every key of a revoked node is revoked, and neither ever enrolls or registers again.
    sql: `
ALTER TABLE nodes ADD COLUMN wg_key_created_at INTEGER;
UPDATE nodes SET wg_key_created_at = created_at;
ALTER TABLE nodes ADD COLUMN identity_expires_at INTEGER;
ALTER TABLE nodes ADD COLUMN rotate_requested_at INTEGER;
CREATE TABLE node_keys (
  kind TEXT NOT NULL CHECK (kind IN ('wg', 'identity')),
  key TEXT NOT NULL,
  node_id TEXT NOT NULL,
  added_at INTEGER NOT NULL,
  retired_at INTEGER,
  revoked_at INTEGER,
  PRIMARY KEY (kind, key)
) WITHOUT ROWID;
INSERT OR IGNORE INTO node_keys (kind, key, node_id, added_at) SELECT 'wg', wg_key, id, created_at FROM nodes WHERE revoked = 0;
INSERT OR IGNORE INTO node_keys (kind, key, node_id, added_at) SELECT 'identity', identity_key, id, created_at FROM nodes WHERE revoked = 0;
INSERT OR IGNORE INTO node_keys (kind, key, node_id, added_at, revoked_at) SELECT 'wg', wg_key, id, created_at, COALESCE(revoked_at, created_at) FROM nodes WHERE revoked = 1;
INSERT OR IGNORE INTO node_keys (kind, key, node_id, added_at, revoked_at) SELECT 'identity', identity_key, id, created_at, COALESCE(revoked_at, created_at) FROM nodes WHERE revoked = 1;
`,
  },
  {
    version: 4,
    name: 'audit-chain',
    // Each new audit entry carries the previous entry's hash and its own; the controller appends signed
    // checkpoints (store/audit-chain.ts). Entries from before stay unchained and are digested by the
    // chain's first entry. The append-only triggers stay as they are.
    sql: `
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
    sql: `
ALTER TABLE nodes ADD COLUMN relay_port INTEGER CHECK (relay_port IS NULL OR (relay_port BETWEEN 1 AND 65535));
`,
  },
  {
    version: 6,
    name: 'shared-store',
    // Several controllers on one (PostgreSQL) store: each records itself and its heartbeat, and which
    // node streams it holds, so every map agrees on who is online; policy bundles are kept in the
    // store so every controller can load the active one. SQLite gets the same schema.
    sql: `
CREATE TABLE controllers (
  id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  epoch TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL
);
CREATE TABLE node_streams (
  node_id TEXT NOT NULL,
  controller_id TEXT NOT NULL REFERENCES controllers(id) ON DELETE CASCADE,
  since INTEGER NOT NULL,
  PRIMARY KEY (node_id, controller_id)
) WITHOUT ROWID;
CREATE INDEX node_streams_controller ON node_streams(controller_id);
ALTER TABLE policy_versions ADD COLUMN bundle BLOB;
CREATE INDEX audit_action_seq ON audit(action, seq);
`,
  },
  {
    version: 7,
    name: 'routes',
    // Subnet routes and exit nodes gateways advertise, and the decision on each (store/route-repository.ts).
    sql: `
CREATE TABLE routes (
  node_id TEXT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
  prefix TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('subnet', 'exit')),
  priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 1000),
  check_target TEXT,
  advertised INTEGER NOT NULL CHECK (advertised IN (0, 1)),
  status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
  decided_by TEXT,
  decided_at INTEGER,
  policy_version TEXT,
  advertised_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
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
    sql: `
ALTER TABLE nodes ADD COLUMN candidates TEXT;
`,
  },
  {
    version: 9,
    name: 'rotation-leases',
    // Until when a node may be between two WireGuard keys, shared by every controller on the store (store/rotation-lease-repository.ts).
    sql: `
CREATE TABLE rotation_leases (
  node_id TEXT PRIMARY KEY,
  until INTEGER NOT NULL
);
`,
  },
];

/** schemaVersions lists the applied schema versions, oldest first. */
export function schemaVersions(db: Database.Database): number[] {
  return (db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{ version: number }>).map((r) => r.version);
}

/**
 * runMigrations applies the steps not applied yet, each in its own transaction, and refuses a
 * database a newer controller has already migrated further.
 */
export function runMigrations(db: Database.Database, path: string, migrations: Migration[]): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const applied = new Set(schemaVersions(db));
  const known = new Set(migrations.map((m) => m.version));
  const newest = Math.max(0, ...applied);
  if (newest > Math.max(0, ...known)) {
    throw errors.store(`${path} has schema version ${newest}, newer than this controller knows; upgrade Trellis`);
  }
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
    })();
  }
}
