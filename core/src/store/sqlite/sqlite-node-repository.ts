import type Database from 'better-sqlite3';
import type { Facts, PostureDecision } from '../../api/hooks';
import { errors } from '../../errors';
import type { AddressPool } from '../address-pool';
import type { AuditEntry } from '../audit-repository';
import { checkAuthKeyUsable } from '../auth-key-rules';
import type { EnrollInput, EnrollResult, NodeRecord, NodeRepository } from '../node-repository';
import { secretMatches } from '../secret-hash';
import { toKey, type SqliteAuthKeyRepository } from './sqlite-auth-key-repository';
import type { SqliteAuditRepository } from './sqlite-audit-repository';
import type { SqliteMetaRepository } from './sqlite-meta-repository';

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

const META_IPV4 = 'ipam.ipv4Cidr';
const META_IPV6 = 'ipam.ipv6Prefix';
const META_CURSOR = 'ipam.cursor';

export interface SqliteNodeRepositoryDeps {
  db: Database.Database;
  /** The database file, for messages. */
  path: string;
  pool: AddressPool;
  meta: SqliteMetaRepository;
  keys: SqliteAuthKeyRepository;
  audit: SqliteAuditRepository;
}

export class SqliteNodeRepository implements NodeRepository {
  private readonly db: Database.Database;

  constructor(private readonly d: SqliteNodeRepositoryDeps) {
    this.db = d.db;
  }

  /** The overlay prefixes are fixed at first start: nodes keep their addresses, so changing them later is refused. */
  checkPool(): void {
    const { meta, pool, path } = this.d;
    const v4 = meta.getSync(META_IPV4);
    const v6 = meta.getSync(META_IPV6);
    if (v4 === null || v6 === null) {
      this.db.transaction(() => {
        meta.setSync(META_IPV4, pool.ipv4Cidr);
        meta.setSync(META_IPV6, pool.ipv6Prefix);
      })();
      return;
    }
    if (v4 !== pool.ipv4Cidr) {
      throw errors.configInvalid('ipv4Cidr', `${path} allocates from ${v4}, not ${pool.ipv4Cidr}; nodes keep their addresses, so start with --ipv4-cidr ${v4} or a new data dir`);
    }
    if (v6 !== pool.ipv6Prefix) {
      throw errors.configInvalid('ipv6Prefix', `${path} allocates from ${v6}, not ${pool.ipv6Prefix}; start with that prefix or a new data dir`);
    }
  }

  private nodeRow(sql: string, ...args: unknown[]): NodeRecord | null {
    const row = this.db.prepare(sql).get(...args) as NodeRow | undefined;
    return row ? toNode(row) : null;
  }

  /** revokeOwnedBySync revokes the user's live nodes and returns them as revoked. */
  revokeOwnedBySync(user: string, at: number): NodeRecord[] {
    const nodes = (this.db.prepare('SELECT * FROM nodes WHERE owner_user = ? AND revoked = 0 ORDER BY name').all(user) as NodeRow[]).map(toNode);
    this.db.prepare('UPDATE nodes SET revoked = 1, revoked_at = ? WHERE owner_user = ? AND revoked = 0').run(at, user);
    return nodes.map((n) => ({ ...n, revoked: true, revokedAt: at }));
  }

  async enrollNode(input: EnrollInput): Promise<EnrollResult> {
    const { keys, meta, pool } = this.d;
    return this.db.transaction((): EnrollResult => {
      const keyRow = keys.rowSync(input.keyId);
      if (!keyRow || !secretMatches(input.secret, keyRow.secret_hash)) throw errors.enrollKeyUnknown();
      const key = toKey(keyRow);
      const audit = (action: string, node: NodeRecord, extra: Record<string, unknown> = {}) =>
        this.d.audit.appendSync({ at: input.now, action, actor: input.actor, target: node.id, details: { name: node.name, keyId: key.id, ...extra } });

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
        keys.countUseSync(key.id);
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
        this.d.audit.appendSync({
          at: input.now,
          action: 'node.revoked',
          actor: 'system',
          target: holder.id,
          details: { name: holder.name, reason: 'expired node replaced by a new enrollment with the same name' },
        });
      }
      if (this.db.prepare('SELECT 1 FROM nodes WHERE wg_key = ? AND revoked = 0').get(input.wgKey)) throw errors.keyInUse();

      const taken = this.db.prepare('SELECT 1 FROM nodes WHERE addr_index = ?');
      const index = pool.allocate(Number(meta.getSync(META_CURSOR) ?? '1'), (i) => taken.get(i) !== undefined);
      const { ipv4, ipv6 } = pool.addressAt(index);
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
      meta.setSync(META_CURSOR, String((index % pool.size) + 1));
      keys.countUseSync(key.id);
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
      this.d.audit.appendSync(audit);
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

  async approveNode(id: string, at: number, audit: AuditEntry): Promise<NodeRecord> {
    return this.db.transaction(() => {
      const node = this.nodeRow('SELECT * FROM nodes WHERE id = ?', id);
      if (!node) throw errors.notFound(`node ${id}`);
      if (!node.approved) this.db.prepare('UPDATE nodes SET approved = 1, approved_at = ? WHERE id = ?').run(at, id);
      this.d.audit.appendSync(audit);
      return { ...node, approved: true };
    })();
  }
}
