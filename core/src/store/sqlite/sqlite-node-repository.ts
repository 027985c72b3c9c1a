import type Database from 'better-sqlite3';
import type { Facts, PostureDecision } from '../../api/hooks';
import { isExpired, KEY_KIND_LABEL as KIND_LABEL, META_CURSOR, META_IPV4, META_IPV6, toKey, toNode, type NodeKeyKind as KeyKind, type NodeKeyRow as KeyRow, type NodeRow } from '../store-rows';
import { errors } from '../../errors';
import type { EndpointCandidate, RelayOffer } from '../../netmap/types';
import type { AddressPool } from '../address-pool';
import type { AuditEntry } from '../audit-repository';
import { checkAuthKeyUsable } from '../auth-key-rules';
import type { EnrollInput, EnrollResult, NodeKeyLifetimes, NodeRecord, NodeRepository } from '../node-repository';
import { secretMatches } from '../secret-hash';
import type { SqliteAuthKeyRepository } from './sqlite-auth-key-repository';
import type { SqliteAuditRepository } from './sqlite-audit-repository';
import type { SqliteMetaRepository } from './sqlite-meta-repository';

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
    for (const n of nodes) this.revokeKeysSync(n.id, at);
    return nodes.map((n) => ({ ...n, revoked: true, revokedAt: at }));
  }

  /** revokeKeysSync marks every key the node ever held as revoked: none of them enrolls again. */
  private revokeKeysSync(nodeId: string, at: number): void {
    this.db.prepare('UPDATE node_keys SET revoked_at = ? WHERE node_id = ? AND revoked_at IS NULL').run(at, nodeId);
  }

  private keyRow(kind: KeyKind, key: string): KeyRow | undefined {
    return this.db.prepare('SELECT node_id, retired_at, revoked_at FROM node_keys WHERE kind = ? AND key = ?').get(kind, key) as KeyRow | undefined;
  }

  private ownerName(nodeId: string): string {
    const row = this.db.prepare('SELECT name FROM nodes WHERE id = ?').get(nodeId) as { name: string } | undefined;
    return row?.name ?? nodeId;
  }

  /** refuseSpentKeySync throws when some node held the key before and it was revoked or rotated out. */
  private refuseSpentKeySync(kind: KeyKind, key: string): void {
    const row = this.keyRow(kind, key);
    if (!row) return;
    if (row.revoked_at !== null) throw errors.keyRevoked(KIND_LABEL[kind], this.ownerName(row.node_id));
    if (row.retired_at !== null) throw errors.keyRetired(KIND_LABEL[kind], this.ownerName(row.node_id));
  }

  /** checkNewKeySync refuses a key any node holds now or held before: a rotation always brings a fresh key. */
  private checkNewKeySync(kind: KeyKind, key: string): void {
    this.refuseSpentKeySync(kind, key);
    const column = kind === 'wg' ? 'wg_key' : 'identity_key';
    if (this.keyRow(kind, key) || this.db.prepare(`SELECT 1 FROM nodes WHERE ${column} = ?`).get(key)) throw errors.keyInUse();
  }

  private addKeySync(kind: KeyKind, key: string, nodeId: string, at: number): void {
    this.db.prepare('INSERT INTO node_keys (kind, key, node_id, added_at) VALUES (?, ?, ?, ?)').run(kind, key, nodeId, at);
  }

  private retireKeySync(kind: KeyKind, key: string, at: number): void {
    this.db.prepare('UPDATE node_keys SET retired_at = ? WHERE kind = ? AND key = ? AND retired_at IS NULL').run(at, kind, key);
  }

  /** liveNodeSync reads a node that must exist, be neither revoked nor expired at `now`. */
  private liveNodeSync(id: string, now: number): NodeRecord {
    const node = this.nodeRow('SELECT * FROM nodes WHERE id = ?', id);
    if (!node) throw errors.notFound(`node ${id}`);
    if (node.revoked) throw errors.nodeNotLive(node.name, 'revoked');
    if (isExpired(node, now)) throw errors.nodeNotLive(node.name, 'expired');
    return node;
  }

  async enrollNode(input: EnrollInput): Promise<EnrollResult> {
    const { keys, meta, pool } = this.d;
    return this.db.transaction((): EnrollResult => {
      const keyRow = keys.rowSync(input.keyId);
      if (!keyRow || !secretMatches(input.secret, keyRow.secret_hash)) throw errors.enrollKeyUnknown();
      const key = toKey(keyRow);
      const audit = (action: string, node: NodeRecord, extra: Record<string, unknown> = {}) =>
        this.d.audit.appendSync({ at: input.now, action, actor: input.actor, target: node.id, details: { name: node.name, keyId: key.id, ...extra } });
      // A key some node held before (revoked with it, or rotated out) never comes back.
      this.refuseSpentKeySync('wg', input.wgKey);
      this.refuseSpentKeySync('identity', input.identityKey);
      const lifetimes = (tags: readonly string[]): NodeKeyLifetimes => input.lifetimes?.(tags) ?? { nodeTtlMs: null, identityLifetimeMs: 0 };
      const identityExpiry = (tags: readonly string[]) => {
        const ms = lifetimes(tags).identityLifetimeMs;
        return ms > 0 ? input.now + ms : null;
      };
      const nodeTtl = (tags: readonly string[]) => key.nodeTtlMs ?? lifetimes(tags).nodeTtlMs;

      const existing = this.nodeRow('SELECT * FROM nodes WHERE identity_key = ? AND revoked = 0', input.identityKey);
      if (existing) {
        // Enrollment is unsigned, so a known identity may only get its own node back, never change it.
        if (existing.wgKey !== input.wgKey || existing.name !== input.name) throw errors.keyInUse();
        const expired = existing.expiresAt !== null && existing.expiresAt <= input.now;
        // A revoked or lapsed key enrols nothing, not even the node it enrolled before.
        if (key.revoked) throw errors.enrollKeyRevoked();
        if (key.expiresAt <= input.now) throw errors.enrollKeyExpired(key.expiresAt);
        if (!expired && existing.authKeyId === key.id) {
          audit('node.reenrolled', existing, { usesCounted: false });
          return { node: existing, outcome: 'reenrolled', replaced: null };
        }
        checkAuthKeyUsable(key, input.now);
        keys.countUseSync(key.id);
        const ttl = nodeTtl(existing.tags);
        const expiresAt = expired ? (ttl === null ? null : input.now + ttl) : existing.expiresAt;
        // The auth key vouches for the node again, so its identity credential starts a new lifetime.
        const identityExpiresAt = identityExpiry(existing.tags);
        this.db
          .prepare('UPDATE nodes SET expires_at = ?, auth_key_id = ?, identity_expires_at = ? WHERE id = ?')
          .run(expiresAt, key.id, identityExpiresAt, existing.id);
        const node = { ...existing, expiresAt, authKeyId: key.id, identityExpiresAt };
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
        this.revokeKeysSync(holder.id, input.now);
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
      const ttl = nodeTtl(key.tags);
      const expiresAt = ttl === null ? null : input.now + ttl;
      this.db
        .prepare(
          `INSERT INTO nodes (id, name, hostname, owner_user, tags, wg_key, identity_key, addr_index, ipv4, ipv6, endpoints,
             auth_key_id, last_seen, created_at, expires_at, approved, wg_key_created_at, identity_expires_at, relay_port)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
          input.now,
          identityExpiry(key.tags),
          input.relay?.port ?? null,
        );
      this.addKeySync('wg', input.wgKey, input.newNodeId, input.now);
      this.addKeySync('identity', input.identityKey, input.newNodeId, input.now);
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
      if (!node.revoked) {
        this.db.prepare('UPDATE nodes SET revoked = 1, revoked_at = ? WHERE id = ?').run(at, id);
        this.revokeKeysSync(id, at);
      }
      this.d.audit.appendSync(audit);
      return node.revoked ? node : { ...node, revoked: true, revokedAt: at };
    })();
  }

  async setEndpoints(id: string, endpoints: string[], candidates: EndpointCandidate[] | null = null): Promise<boolean> {
    const e = JSON.stringify(endpoints);
    const c = candidates === null ? null : JSON.stringify(candidates);
    const info = this.db.prepare('UPDATE nodes SET endpoints = ?, candidates = ? WHERE id = ? AND (endpoints <> ? OR candidates IS NOT ?)').run(e, c, id, e, c);
    return info.changes > 0;
  }

  async setRelay(id: string, relay: RelayOffer | null): Promise<boolean> {
    const port = relay?.port ?? null;
    return this.db.prepare('UPDATE nodes SET relay_port = ? WHERE id = ? AND relay_port IS NOT ?').run(port, id, port).changes > 0;
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

  async rotateWgKey(id: string, wgKey: string, at: number, audit: AuditEntry): Promise<NodeRecord> {
    return this.db.transaction(() => {
      const node = this.liveNodeSync(id, at);
      if (node.wgKey === wgKey) return node;
      this.checkNewKeySync('wg', wgKey);
      this.retireKeySync('wg', node.wgKey, at);
      this.addKeySync('wg', wgKey, id, at);
      this.db.prepare('UPDATE nodes SET wg_key = ?, wg_key_created_at = ?, rotate_requested_at = NULL WHERE id = ?').run(wgKey, at, id);
      this.d.audit.appendSync(audit);
      return { ...node, wgKey, wgKeyCreatedAt: at, rotateRequestedAt: null };
    })();
  }

  async renewIdentity(id: string, identityKey: string, expiresAt: number, at: number, audit: AuditEntry): Promise<NodeRecord> {
    return this.db.transaction(() => {
      const node = this.liveNodeSync(id, at);
      if (node.identityKey !== identityKey) {
        this.checkNewKeySync('identity', identityKey);
        this.retireKeySync('identity', node.identityKey, at);
        this.addKeySync('identity', identityKey, id, at);
      }
      this.db.prepare('UPDATE nodes SET identity_key = ?, identity_expires_at = ? WHERE id = ?').run(identityKey, expiresAt, id);
      this.d.audit.appendSync(audit);
      return { ...node, identityKey, identityExpiresAt: expiresAt };
    })();
  }

  async requestKeyRotation(ids: readonly string[], at: number, audit: (node: NodeRecord) => AuditEntry): Promise<NodeRecord[]> {
    return this.db.transaction(() => {
      const nodes = ids.map((id) => this.liveNodeSync(id, at));
      const flag = this.db.prepare('UPDATE nodes SET rotate_requested_at = ? WHERE id = ?');
      return nodes.map((n) => {
        flag.run(at, n.id);
        this.d.audit.appendSync(audit(n));
        return { ...n, rotateRequestedAt: at };
      });
    })();
  }

  async setNodeExpiry(id: string, expiresAt: number, now: number, audit: AuditEntry): Promise<NodeRecord> {
    return this.db.transaction(() => {
      const node = this.liveNodeSync(id, now);
      this.db.prepare('UPDATE nodes SET expires_at = ? WHERE id = ?').run(expiresAt, id);
      this.d.audit.appendSync(audit);
      return { ...node, expiresAt };
    })();
  }

  async giveIdentityLifetimes(expiresAt: (node: NodeRecord) => number | null, at: number): Promise<number> {
    return this.db.transaction(() => {
      const rows = (this.db.prepare('SELECT * FROM nodes WHERE revoked = 0 AND identity_expires_at IS NULL').all() as NodeRow[]).map(toNode);
      const set = this.db.prepare('UPDATE nodes SET identity_expires_at = ? WHERE id = ?');
      let n = 0;
      for (const node of rows) {
        if (isExpired(node, at)) continue;
        const when = expiresAt(node);
        if (when === null) continue;
        set.run(when, node.id);
        n++;
      }
      return n;
    })();
  }
}
