import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Facts, PostureDecision } from '../api/hooks';
import type { AuditEvent } from '../wire';
import { errors } from '../errors';
import { AddressPool } from './address-pool';
import { checkAuthKeyUsable } from './auth-key-rules';
import { SQLITE_MIGRATIONS, type Migration } from './migrations';
import { secretMatches } from './secret-hash';
import type {
  AuditEntry,
  AuthKeyRecord,
  EnrollInput,
  EnrollResult,
  GroupRecord,
  NewAuthKey,
  NodeRecord,
  PolicyActivation,
  PolicyVersionRecord,
  RemoveUserResult,
  Store,
  UserRecord,
} from './store';

export interface SqliteStoreOptions {
  /** Directory holding trellis.db; created (0700) if missing. */
  dataDir: string;
  ipv4Cidr?: string;
  ipv6Prefix?: string;
  /** Override the migration list (tests of the migration runner). */
  migrations?: Migration[];
}

interface NodeRow {
  id: string;
  name: string;
  hostname: string;
  owner_user: string | null;
  tags: string;
  wg_key: string;
  identity_key: string;
  addr_index: number;
  ipv4: string;
  ipv6: string;
  endpoints: string;
  auth_key_id: string | null;
  last_seen: number | null;
  created_at: number;
  expires_at: number | null;
  revoked: number;
  revoked_at: number | null;
  facts: string | null;
  posture: string | null;
  approved: number;
  approved_at: number | null;
}

interface KeyRow {
  id: string;
  secret_hash: string;
  tags: string;
  owner_user: string | null;
  reusable: number;
  uses: number;
  created_at: number;
  expires_at: number;
  revoked: number;
  node_ttl_ms: number | null;
}

interface AuditRow {
  seq: number;
  at: number;
  action: string;
  actor: string;
  target: string | null;
  details: string;
}

const toNode = (r: NodeRow): NodeRecord => ({
  id: r.id,
  name: r.name,
  hostname: r.hostname,
  user: r.owner_user,
  tags: JSON.parse(r.tags) as string[],
  wgKey: r.wg_key,
  identityKey: r.identity_key,
  ipv4: r.ipv4,
  ipv6: r.ipv6,
  endpoints: JSON.parse(r.endpoints) as string[],
  authKeyId: r.auth_key_id,
  lastSeen: r.last_seen,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revoked: r.revoked === 1,
  revokedAt: r.revoked_at,
  facts: r.facts === null ? null : (JSON.parse(r.facts) as Facts),
  posture: r.posture === null ? null : (JSON.parse(r.posture) as PostureDecision),
  approved: r.approved !== 0,
});

const toKey = (r: KeyRow): AuthKeyRecord => ({
  id: r.id,
  tags: JSON.parse(r.tags) as string[],
  user: r.owner_user,
  reusable: r.reusable === 1,
  uses: r.uses,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revoked: r.revoked === 1,
  nodeTtlMs: r.node_ttl_ms,
});

const toAudit = (r: AuditRow): AuditEvent => ({
  seq: r.seq,
  at: r.at,
  action: r.action,
  actor: r.actor,
  target: r.target,
  details: JSON.parse(r.details) as Record<string, unknown>,
});

const META_IPV4 = 'ipam.ipv4Cidr';
const META_IPV6 = 'ipam.ipv6Prefix';
const META_CURSOR = 'ipam.cursor';
const META_POLICY_ACTIVE = 'policy.activeVersion';

/**
 * SqliteStore keeps the controller state in <dataDir>/trellis.db (better-sqlite3, WAL). Each public
 * method is one transaction. The audit table refuses UPDATE and DELETE through triggers.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly overlay: { ipv4Cidr: string; ipv6Prefix: string };
  readonly path: string;
  private readonly db: Database.Database;
  private readonly pool: AddressPool;

  constructor(opts: SqliteStoreOptions) {
    this.pool = new AddressPool(opts.ipv4Cidr, opts.ipv6Prefix);
    this.overlay = { ipv4Cidr: this.pool.ipv4Cidr, ipv6Prefix: this.pool.ipv6Prefix };
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    this.path = join(opts.dataDir, 'trellis.db');
    this.db = new Database(this.path);
    try {
      chmodSync(this.path, 0o600);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('foreign_keys = ON');
      this.db.pragma('busy_timeout = 5000');
      this.migrate(opts.migrations ?? SQLITE_MIGRATIONS);
      this.checkPool();
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  /** The applied schema versions, oldest first. */
  schemaVersions(): number[] {
    return (this.db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{ version: number }>).map((r) => r.version);
  }

  private migrate(migrations: Migration[]): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    const applied = new Set(this.schemaVersions());
    const known = new Set(migrations.map((m) => m.version));
    const newest = Math.max(0, ...applied);
    if (newest > Math.max(0, ...known)) {
      throw errors.store(`${this.path} has schema version ${newest}, newer than this controller knows; upgrade Trellis`);
    }
    const record = this.db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        record.run(m.version, m.name, Date.now());
      })();
    }
  }

  /** The overlay prefixes are fixed at first start: nodes keep their addresses, so changing them later is refused. */
  private checkPool(): void {
    const v4 = this.metaSync(META_IPV4);
    const v6 = this.metaSync(META_IPV6);
    if (v4 === null || v6 === null) {
      this.db.transaction(() => {
        this.setMetaSync(META_IPV4, this.pool.ipv4Cidr);
        this.setMetaSync(META_IPV6, this.pool.ipv6Prefix);
      })();
      return;
    }
    if (v4 !== this.pool.ipv4Cidr) {
      throw errors.configInvalid('ipv4Cidr', `${this.path} allocates from ${v4}, not ${this.pool.ipv4Cidr}; nodes keep their addresses, so start with --ipv4-cidr ${v4} or a new data dir`);
    }
    if (v6 !== this.pool.ipv6Prefix) {
      throw errors.configInvalid('ipv6Prefix', `${this.path} allocates from ${v6}, not ${this.pool.ipv6Prefix}; start with that prefix or a new data dir`);
    }
  }

  private metaSync(key: string): string | null {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row ? row.value : null;
  }

  private setMetaSync(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  private auditSync(entry: AuditEntry): AuditEvent {
    const at = entry.at ?? Date.now();
    const details = entry.details ?? {};
    const info = this.db
      .prepare('INSERT INTO audit (at, action, actor, target, details) VALUES (?, ?, ?, ?, ?)')
      .run(at, entry.action, entry.actor, entry.target ?? null, JSON.stringify(details));
    return { seq: Number(info.lastInsertRowid), at, action: entry.action, actor: entry.actor, target: entry.target ?? null, details };
  }

  private nodeRow(sql: string, ...args: unknown[]): NodeRecord | null {
    const row = this.db.prepare(sql).get(...args) as NodeRow | undefined;
    return row ? toNode(row) : null;
  }

  async getMeta(key: string): Promise<string | null> {
    return this.metaSync(key);
  }

  async setMeta(key: string, value: string, audit?: AuditEntry): Promise<void> {
    this.db.transaction(() => {
      this.setMetaSync(key, value);
      if (audit) this.auditSync(audit);
    })();
  }

  async createAuthKey(key: NewAuthKey, audit: AuditEntry): Promise<AuthKeyRecord> {
    return this.db.transaction(() => {
      if (key.user !== null) this.db.prepare('INSERT OR IGNORE INTO users (name, created_at) VALUES (?, ?)').run(key.user, key.createdAt);
      this.db
        .prepare(
          'INSERT INTO auth_keys (id, secret_hash, tags, owner_user, reusable, created_at, expires_at, node_ttl_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(key.id, key.secretHash, JSON.stringify(key.tags), key.user, key.reusable ? 1 : 0, key.createdAt, key.expiresAt, key.nodeTtlMs);
      this.auditSync(audit);
      return toKey(this.db.prepare('SELECT * FROM auth_keys WHERE id = ?').get(key.id) as KeyRow);
    })();
  }

  async listAuthKeys(): Promise<AuthKeyRecord[]> {
    return (this.db.prepare('SELECT * FROM auth_keys ORDER BY created_at, id').all() as KeyRow[]).map(toKey);
  }

  async enrollNode(input: EnrollInput): Promise<EnrollResult> {
    return this.db.transaction((): EnrollResult => {
      const keyRow = this.db.prepare('SELECT * FROM auth_keys WHERE id = ?').get(input.keyId) as KeyRow | undefined;
      if (!keyRow || !secretMatches(input.secret, keyRow.secret_hash)) throw errors.enrollKeyUnknown();
      const key = toKey(keyRow);
      const countUse = () => this.db.prepare('UPDATE auth_keys SET uses = uses + 1 WHERE id = ?').run(key.id);
      const audit = (action: string, node: NodeRecord, extra: Record<string, unknown> = {}) =>
        this.auditSync({ at: input.now, action, actor: input.actor, target: node.id, details: { name: node.name, keyId: key.id, ...extra } });

      const existing = this.nodeRow('SELECT * FROM nodes WHERE identity_key = ? AND revoked = 0', input.identityKey);
      if (existing) {
        // Enrollment is unsigned, so a known identity may only get its own node back, never change it.
        if (existing.wgKey !== input.wgKey || existing.name !== input.name) throw errors.keyInUse();
        const expired = existing.expiresAt !== null && existing.expiresAt <= input.now;
        if (!expired && existing.authKeyId === key.id) {
          audit('node.reenrolled', existing, { usesCounted: false });
          return { node: existing, outcome: 'reenrolled', replaced: null };
        }
        checkAuthKeyUsable(key, input.now);
        countUse();
        const expiresAt = expired ? (key.nodeTtlMs === null ? null : input.now + key.nodeTtlMs) : existing.expiresAt;
        this.db.prepare('UPDATE nodes SET expires_at = ?, auth_key_id = ? WHERE id = ?').run(expiresAt, key.id, existing.id);
        const node = { ...existing, expiresAt, authKeyId: key.id };
        audit(expired ? 'node.renewed' : 'node.reenrolled', node, { usesCounted: true });
        return { node, outcome: expired ? 'renewed' : 'reenrolled', replaced: null };
      }

      checkAuthKeyUsable(key, input.now);
      let replaced: NodeRecord | null = null;
      const holder = this.nodeRow('SELECT * FROM nodes WHERE name = ? AND revoked = 0', input.name);
      if (holder) {
        const holderExpired = holder.expiresAt !== null && holder.expiresAt <= input.now;
        if (!holderExpired) throw errors.nameTaken(input.name);
        this.db.prepare('UPDATE nodes SET revoked = 1, revoked_at = ? WHERE id = ?').run(input.now, holder.id);
        replaced = { ...holder, revoked: true, revokedAt: input.now };
        this.auditSync({
          at: input.now,
          action: 'node.revoked',
          actor: 'system',
          target: holder.id,
          details: { name: holder.name, reason: 'expired node replaced by a new enrollment with the same name' },
        });
      }
      if (this.db.prepare('SELECT 1 FROM nodes WHERE wg_key = ? AND revoked = 0').get(input.wgKey)) throw errors.keyInUse();

      const taken = this.db.prepare('SELECT 1 FROM nodes WHERE addr_index = ?');
      const index = this.pool.allocate(Number(this.metaSync(META_CURSOR) ?? '1'), (i) => taken.get(i) !== undefined);
      const { ipv4, ipv6 } = this.pool.addressAt(index);
      const expiresAt = key.nodeTtlMs === null ? null : input.now + key.nodeTtlMs;
      this.db
        .prepare(
          `INSERT INTO nodes (id, name, hostname, owner_user, tags, wg_key, identity_key, addr_index, ipv4, ipv6, endpoints,
             auth_key_id, last_seen, created_at, expires_at, approved)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          input.newNodeId,
          input.name,
          input.hostname,
          key.user,
          JSON.stringify(key.tags),
          input.wgKey,
          input.identityKey,
          index,
          ipv4,
          ipv6,
          JSON.stringify(input.endpoints),
          key.id,
          input.now,
          input.now,
          expiresAt,
          input.requireApproval ? 0 : 1,
        );
      this.setMetaSync(META_CURSOR, String((index % this.pool.size) + 1));
      countUse();
      const node = this.nodeRow('SELECT * FROM nodes WHERE id = ?', input.newNodeId) as NodeRecord;
      audit('node.enrolled', node, { ipv4, ipv6, replaced: replaced?.id ?? null, user: node.user, approved: node.approved });
      return { node, outcome: 'created', replaced };
    })();
  }

  async getNode(id: string): Promise<NodeRecord | null> {
    return this.nodeRow('SELECT * FROM nodes WHERE id = ?', id);
  }

  async findNode(idOrName: string): Promise<NodeRecord | null> {
    return (
      this.nodeRow('SELECT * FROM nodes WHERE id = ?', idOrName) ??
      this.nodeRow('SELECT * FROM nodes WHERE name = ? ORDER BY revoked ASC, created_at DESC LIMIT 1', idOrName)
    );
  }

  async listNodes(): Promise<NodeRecord[]> {
    return (this.db.prepare('SELECT * FROM nodes ORDER BY id').all() as NodeRow[]).map(toNode);
  }

  async revokeNode(id: string, at: number, audit: AuditEntry): Promise<NodeRecord> {
    return this.db.transaction(() => {
      const node = this.nodeRow('SELECT * FROM nodes WHERE id = ?', id);
      if (!node) throw errors.notFound(`node ${id}`);
      if (!node.revoked) this.db.prepare('UPDATE nodes SET revoked = 1, revoked_at = ? WHERE id = ?').run(at, id);
      this.auditSync(audit);
      return node.revoked ? node : { ...node, revoked: true, revokedAt: at };
    })();
  }

  async setEndpoints(id: string, endpoints: string[]): Promise<boolean> {
    const info = this.db.prepare('UPDATE nodes SET endpoints = ? WHERE id = ? AND endpoints <> ?').run(JSON.stringify(endpoints), id, JSON.stringify(endpoints));
    return info.changes > 0;
  }

  async setFacts(id: string, facts: Facts, posture: PostureDecision | null): Promise<boolean> {
    const f = JSON.stringify(facts);
    const p = posture === null ? null : JSON.stringify(posture);
    const info = this.db
      .prepare('UPDATE nodes SET facts = ?, posture = ? WHERE id = ? AND (facts IS NOT ? OR posture IS NOT ?)')
      .run(f, p, id, f, p);
    return info.changes > 0;
  }

  async touchNode(id: string, at: number): Promise<void> {
    this.db.prepare('UPDATE nodes SET last_seen = ? WHERE id = ? AND (last_seen IS NULL OR last_seen < ?)').run(at, id, at);
  }

  async consumeNonce(nodeId: string, nonce: string, expiresAt: number): Promise<boolean> {
    return this.db.prepare('INSERT OR IGNORE INTO nonces (node_id, nonce, expires_at) VALUES (?, ?, ?)').run(nodeId, nonce, expiresAt).changes === 1;
  }

  async purgeNonces(now: number): Promise<number> {
    return this.db.prepare('DELETE FROM nonces WHERE expires_at < ?').run(now).changes;
  }

  async approveNode(id: string, at: number, audit: AuditEntry): Promise<NodeRecord> {
    return this.db.transaction(() => {
      const node = this.nodeRow('SELECT * FROM nodes WHERE id = ?', id);
      if (!node) throw errors.notFound(`node ${id}`);
      if (!node.approved) this.db.prepare('UPDATE nodes SET approved = 1, approved_at = ? WHERE id = ?').run(at, id);
      this.auditSync(audit);
      return { ...node, approved: true };
    })();
  }

  private userSync(name: string): UserRecord | null {
    const row = this.db.prepare('SELECT name, created_at FROM users WHERE name = ?').get(name) as { name: string; created_at: number } | undefined;
    if (!row) return null;
    const groups = (this.db.prepare('SELECT group_name FROM group_members WHERE user_name = ? ORDER BY group_name').all(name) as Array<{ group_name: string }>).map(
      (r) => r.group_name,
    );
    return { name: row.name, groups, createdAt: row.created_at };
  }

  private groupSync(name: string): GroupRecord | null {
    const row = this.db.prepare('SELECT name, created_at FROM groups WHERE name = ?').get(name) as { name: string; created_at: number } | undefined;
    if (!row) return null;
    const members = (this.db.prepare('SELECT user_name FROM group_members WHERE group_name = ? ORDER BY user_name').all(name) as Array<{ user_name: string }>).map(
      (r) => r.user_name,
    );
    return { name: row.name, members, createdAt: row.created_at };
  }

  async listUsers(): Promise<UserRecord[]> {
    const names = this.db.prepare('SELECT name FROM users ORDER BY name').all() as Array<{ name: string }>;
    return names.map((r) => this.userSync(r.name) as UserRecord);
  }

  async addUser(name: string, at: number, audit: AuditEntry): Promise<UserRecord> {
    return this.db.transaction(() => {
      if (this.userSync(name)) throw errors.alreadyExists(`user "${name}"`);
      this.db.prepare('INSERT INTO users (name, created_at) VALUES (?, ?)').run(name, at);
      this.auditSync(audit);
      return this.userSync(name) as UserRecord;
    })();
  }

  async removeUser(name: string, at: number, audit: AuditEntry): Promise<RemoveUserResult> {
    return this.db.transaction(() => {
      const user = this.userSync(name);
      if (!user) throw errors.notFound(`user "${name}"`);
      const nodes = (this.db.prepare('SELECT * FROM nodes WHERE owner_user = ? AND revoked = 0 ORDER BY name').all(name) as NodeRow[]).map(toNode);
      const keys = (this.db.prepare('SELECT id FROM auth_keys WHERE owner_user = ? AND revoked = 0 ORDER BY id').all(name) as Array<{ id: string }>).map((r) => r.id);
      this.db.prepare('UPDATE nodes SET revoked = 1, revoked_at = ? WHERE owner_user = ? AND revoked = 0').run(at, name);
      this.db.prepare('UPDATE auth_keys SET revoked = 1 WHERE owner_user = ? AND revoked = 0').run(name);
      this.db.prepare('DELETE FROM group_members WHERE user_name = ?').run(name);
      this.db.prepare('DELETE FROM users WHERE name = ?').run(name);
      this.auditSync({ ...audit, details: { ...(audit.details ?? {}), revokedNodes: nodes.map((n) => n.name), revokedKeys: keys, groups: user.groups } });
      return { name, revokedNodes: nodes.map((n) => ({ ...n, revoked: true, revokedAt: at })), revokedKeys: keys };
    })();
  }

  async listGroups(): Promise<GroupRecord[]> {
    const names = this.db.prepare('SELECT name FROM groups ORDER BY name').all() as Array<{ name: string }>;
    return names.map((r) => this.groupSync(r.name) as GroupRecord);
  }

  async addGroup(name: string, at: number, audit: AuditEntry): Promise<GroupRecord> {
    return this.db.transaction(() => {
      if (this.groupSync(name)) throw errors.alreadyExists(`group "${name}"`);
      this.db.prepare('INSERT INTO groups (name, created_at) VALUES (?, ?)').run(name, at);
      this.auditSync(audit);
      return this.groupSync(name) as GroupRecord;
    })();
  }

  async removeGroup(name: string, audit: AuditEntry): Promise<GroupRecord> {
    return this.db.transaction(() => {
      const group = this.groupSync(name);
      if (!group) throw errors.notFound(`group "${name}"`);
      this.db.prepare('DELETE FROM group_members WHERE group_name = ?').run(name);
      this.db.prepare('DELETE FROM groups WHERE name = ?').run(name);
      this.auditSync({ ...audit, details: { ...(audit.details ?? {}), members: group.members } });
      return group;
    })();
  }

  async addGroupMember(group: string, user: string, at: number, audit: AuditEntry): Promise<GroupRecord> {
    return this.db.transaction(() => {
      if (!this.groupSync(group)) throw errors.notFound(`group "${group}"`);
      if (!this.userSync(user)) throw errors.notFound(`user "${user}" (add it with \`trellis users add ${user}\`)`);
      this.db.prepare('INSERT OR IGNORE INTO group_members (group_name, user_name, added_at) VALUES (?, ?, ?)').run(group, user, at);
      this.auditSync(audit);
      return this.groupSync(group) as GroupRecord;
    })();
  }

  async removeGroupMember(group: string, user: string, audit: AuditEntry): Promise<GroupRecord> {
    return this.db.transaction(() => {
      const g = this.groupSync(group);
      if (!g) throw errors.notFound(`group "${group}"`);
      if (!g.members.includes(user)) throw errors.notFound(`user "${user}" in group "${group}"`);
      this.db.prepare('DELETE FROM group_members WHERE group_name = ? AND user_name = ?').run(group, user);
      this.auditSync(audit);
      return this.groupSync(group) as GroupRecord;
    })();
  }

  async userGroups(): Promise<Record<string, string[]>> {
    const rows = this.db.prepare('SELECT user_name, group_name FROM group_members ORDER BY user_name, group_name').all() as Array<{ user_name: string; group_name: string }>;
    const out: Record<string, string[]> = {};
    for (const r of rows) (out[r.user_name] ??= []).push(r.group_name);
    return out;
  }

  private policyVersionSync(version: string): PolicyVersionRecord | null {
    const r = this.db.prepare('SELECT * FROM policy_versions WHERE version = ?').get(version) as
      | { version: string; file: string; size: number; source: string; created_at: number }
      | undefined;
    return r ? { version: r.version, file: r.file, size: r.size, source: r.source, createdAt: r.created_at } : null;
  }

  private activationsSync(): PolicyActivation[] {
    return this.db.prepare('SELECT seq, version, at, actor, kind FROM policy_activations WHERE undone = 0 ORDER BY seq').all() as PolicyActivation[];
  }

  async activatePolicy(version: PolicyVersionRecord, activation: { at: number; actor: string; kind: string }, audit: AuditEntry): Promise<void> {
    this.db.transaction(() => {
      this.db
        .prepare('INSERT OR IGNORE INTO policy_versions (version, file, size, source, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(version.version, version.file, version.size, version.source, version.createdAt);
      this.db.prepare('INSERT INTO policy_activations (version, at, actor, kind) VALUES (?, ?, ?, ?)').run(version.version, activation.at, activation.actor, activation.kind);
      this.setMetaSync(META_POLICY_ACTIVE, version.version);
      this.auditSync(audit);
    })();
  }

  async rollbackPolicy(activation: { at: number; actor: string }, audit: (from: string, to: string) => AuditEntry): Promise<{ from: string; to: PolicyVersionRecord }> {
    return this.db.transaction(() => {
      const stack = this.activationsSync();
      const current = stack[stack.length - 1];
      const previous = [...stack].reverse().find((a) => current && a.version !== current.version);
      if (!current || !previous) throw errors.policyNoPrevious(current?.version ?? null);
      // Undo every activation after the previous version's, so a second rollback goes further back.
      this.db.prepare('UPDATE policy_activations SET undone = 1 WHERE seq > ? AND undone = 0').run(previous.seq);
      this.db.prepare("UPDATE policy_activations SET undone = 0 WHERE seq = ?").run(previous.seq);
      this.setMetaSync(META_POLICY_ACTIVE, previous.version);
      this.auditSync({ at: activation.at, ...audit(current.version, previous.version) });
      return { from: current.version, to: this.policyVersionSync(previous.version) as PolicyVersionRecord };
    })();
  }

  async activePolicy(): Promise<(PolicyVersionRecord & { activatedAt: number }) | null> {
    const version = this.metaSync(META_POLICY_ACTIVE);
    if (version === null) return null;
    const record = this.policyVersionSync(version);
    if (!record) return null;
    const stack = this.activationsSync();
    return { ...record, activatedAt: stack[stack.length - 1]?.at ?? record.createdAt };
  }

  async listPolicyVersions(): Promise<PolicyVersionRecord[]> {
    return (this.db.prepare('SELECT * FROM policy_versions ORDER BY created_at, version').all() as Array<{
      version: string;
      file: string;
      size: number;
      source: string;
      created_at: number;
    }>).map((r) => ({ version: r.version, file: r.file, size: r.size, source: r.source, createdAt: r.created_at }));
  }

  async listPolicyActivations(): Promise<PolicyActivation[]> {
    return this.activationsSync();
  }

  async appendAudit(entry: AuditEntry): Promise<AuditEvent> {
    return this.auditSync(entry);
  }

  async listAudit(limit: number): Promise<AuditEvent[]> {
    const rows = this.db.prepare('SELECT * FROM audit ORDER BY seq DESC LIMIT ?').all(limit) as AuditRow[];
    return rows.reverse().map(toAudit);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
