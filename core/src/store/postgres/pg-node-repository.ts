import type { Facts, PostureDecision } from '../../api/hooks';
import { errors } from '../../errors';
import type { EndpointCandidate, RelayOffer } from '../../netmap/types';
import type { AddressPool } from '../address-pool';
import type { AuditEntry } from '../audit-repository';
import { checkAuthKeyUsable } from '../auth-key-rules';
import type { EnrollInput, EnrollResult, NodeKeyLifetimes, NodeRecord, NodeRepository } from '../node-repository';
import { secretMatches } from '../secret-hash';
import { isExpired, KEY_KIND_LABEL, META_CURSOR, META_IPV4, META_IPV6, toKey, toNode, type KeyRow, type NodeKeyKind, type NodeKeyRow, type NodeRow } from '../store-rows';
import type { PgAuditRepository } from './pg-audit-repository';
import type { PgDatabase, PgQuery, PgTx } from './pg-database';
import type { PgMetaRepository } from './pg-meta-repository';

export interface PgNodeRepositoryDeps {
  db: PgDatabase;
  pool: AddressPool;
  meta: PgMetaRepository;
  audit: PgAuditRepository;
}

/**
 * PgNodeRepository is SqliteNodeRepository's semantics on PostgreSQL: every change is one write
 * transaction (under the store-wide write lock) with its audit entry, and announces the node it
 * changed so other controllers rebuild what depends on it.
 */
export class PgNodeRepository implements NodeRepository {
  private readonly db: PgDatabase;

  constructor(private readonly d: PgNodeRepositoryDeps) {
    this.db = d.db;
  }

  /** The overlay prefixes are fixed at first start: nodes keep their addresses, so changing them later is refused. */
  async checkPool(): Promise<void> {
    const { meta, pool, db } = this.d;
    const where = db.location;
    await db.write(async (tx) => {
      const v4 = await meta.getIn(tx, META_IPV4);
      const v6 = await meta.getIn(tx, META_IPV6);
      if (v4 === null || v6 === null) {
        await meta.setIn(tx, META_IPV4, pool.ipv4Cidr);
        await meta.setIn(tx, META_IPV6, pool.ipv6Prefix);
        return;
      }
      if (v4 !== pool.ipv4Cidr) {
        throw errors.configInvalid('ipv4Cidr', `${where} allocates from ${v4}, not ${pool.ipv4Cidr}; nodes keep their addresses, so start with --ipv4-cidr ${v4} or a new database`);
      }
      if (v6 !== pool.ipv6Prefix) {
        throw errors.configInvalid('ipv6Prefix', `${where} allocates from ${v6}, not ${pool.ipv6Prefix}; start with that prefix or a new database`);
      }
    });
  }

  private async nodeRow(q: PgQuery, sql: string, params: unknown[]): Promise<NodeRecord | null> {
    const row = await q.row<NodeRow>(sql, params);
    return row ? toNode(row) : null;
  }

  private byId(q: PgQuery, id: string): Promise<NodeRecord | null> {
    return this.nodeRow(q, 'SELECT * FROM nodes WHERE id = $1', [id]);
  }

  /** revokeOwnedByIn revokes the user's live nodes and returns them as revoked. */
  async revokeOwnedByIn(tx: PgTx, user: string, at: number): Promise<NodeRecord[]> {
    const nodes = (await tx.rows<NodeRow>('SELECT * FROM nodes WHERE owner_user = $1 AND revoked = 0 ORDER BY name', [user])).map(toNode);
    await tx.run('UPDATE nodes SET revoked = 1, revoked_at = $1 WHERE owner_user = $2 AND revoked = 0', [at, user]);
    for (const n of nodes) {
      await this.revokeKeys(tx, n.id, at);
      tx.notify({ kind: 'node', nodeId: n.id, reason: `owner ${user} removed` });
    }
    return nodes.map((n) => ({ ...n, revoked: true, revokedAt: at }));
  }

  /** revokeKeys marks every key the node ever held as revoked: none of them enrolls again. */
  private async revokeKeys(q: PgQuery, nodeId: string, at: number): Promise<void> {
    await q.run('UPDATE node_keys SET revoked_at = $1 WHERE node_id = $2 AND revoked_at IS NULL', [at, nodeId]);
  }

  private keyRow(q: PgQuery, kind: NodeKeyKind, key: string): Promise<NodeKeyRow | undefined> {
    return q.row<NodeKeyRow>('SELECT node_id, retired_at, revoked_at FROM node_keys WHERE kind = $1 AND key = $2', [kind, key]);
  }

  private async ownerName(q: PgQuery, nodeId: string): Promise<string> {
    const row = await q.row<{ name: string }>('SELECT name FROM nodes WHERE id = $1', [nodeId]);
    return row?.name ?? nodeId;
  }

  /** refuseSpentKey throws when some node held the key before and it was revoked or rotated out. */
  private async refuseSpentKey(q: PgQuery, kind: NodeKeyKind, key: string): Promise<void> {
    const row = await this.keyRow(q, kind, key);
    if (!row) return;
    if (row.revoked_at !== null) throw errors.keyRevoked(KEY_KIND_LABEL[kind], await this.ownerName(q, row.node_id));
    if (row.retired_at !== null) throw errors.keyRetired(KEY_KIND_LABEL[kind], await this.ownerName(q, row.node_id));
  }

  /** checkNewKey refuses a key any node holds now or held before: a rotation always brings a fresh key. */
  private async checkNewKey(q: PgQuery, kind: NodeKeyKind, key: string): Promise<void> {
    await this.refuseSpentKey(q, kind, key);
    const column = kind === 'wg' ? 'wg_key' : 'identity_key';
    if ((await this.keyRow(q, kind, key)) || (await q.row(`SELECT 1 FROM nodes WHERE ${column} = $1`, [key]))) throw errors.keyInUse();
  }

  private async addKey(q: PgQuery, kind: NodeKeyKind, key: string, nodeId: string, at: number): Promise<void> {
    await q.run('INSERT INTO node_keys (kind, key, node_id, added_at) VALUES ($1, $2, $3, $4)', [kind, key, nodeId, at]);
  }

  private async retireKey(q: PgQuery, kind: NodeKeyKind, key: string, at: number): Promise<void> {
    await q.run('UPDATE node_keys SET retired_at = $1 WHERE kind = $2 AND key = $3 AND retired_at IS NULL', [at, kind, key]);
  }

  /** liveNode reads a node that must exist, be neither revoked nor expired at `now`. */
  private async liveNode(q: PgQuery, id: string, now: number): Promise<NodeRecord> {
    const node = await this.byId(q, id);
    if (!node) throw errors.notFound(`node ${id}`);
    if (node.revoked) throw errors.nodeNotLive(node.name, 'revoked');
    if (isExpired(node, now)) throw errors.nodeNotLive(node.name, 'expired');
    return node;
  }

  /**
   * allocateIndex is AddressPool.allocate over the table: the first free index at or after the
   * cursor, wrapping; it asks for the first gap instead of testing indexes one by one.
   */
  private async allocateIndex(q: PgQuery, cursor: number): Promise<number> {
    const { pool } = this.d;
    const start = Number.isInteger(cursor) && cursor >= 1 && cursor <= pool.size ? cursor : 1;
    const free = async (i: number) => !(await q.row('SELECT 1 FROM nodes WHERE addr_index = $1', [i]));
    /** The first free index in from..to (inclusive), or null. */
    const firstFree = async (from: number, to: number): Promise<number | null> => {
      if (from > to) return null;
      if (await free(from)) return from;
      const gap = await q.row<{ i: number | null }>(
        `SELECT min(n.addr_index) + 1 AS i FROM nodes n
          WHERE n.addr_index >= $1 AND n.addr_index < $2
            AND NOT EXISTS (SELECT 1 FROM nodes m WHERE m.addr_index = n.addr_index + 1)`,
        [from, to],
      );
      return gap?.i !== null && gap?.i !== undefined && gap.i <= to ? gap.i : null;
    };
    const index = (await firstFree(start, pool.size)) ?? (await firstFree(1, start - 1));
    if (index === null) throw errors.poolExhausted(pool.ipv4Cidr);
    return index;
  }

  async enrollNode(input: EnrollInput): Promise<EnrollResult> {
    const { meta, pool } = this.d;
    return this.db.write(async (tx): Promise<EnrollResult> => {
      const keyRow = await tx.row<KeyRow>('SELECT * FROM auth_keys WHERE id = $1', [input.keyId]);
      if (!keyRow || !secretMatches(input.secret, keyRow.secret_hash)) throw errors.enrollKeyUnknown();
      const key = toKey(keyRow);
      const audit = (action: string, node: NodeRecord, extra: Record<string, unknown> = {}) =>
        this.d.audit.appendIn(tx, { at: input.now, action, actor: input.actor, target: node.id, details: { name: node.name, keyId: key.id, ...extra } });
      const countUse = () => tx.run('UPDATE auth_keys SET uses = uses + 1 WHERE id = $1', [key.id]);
      // A key some node held before (revoked with it, or rotated out) never comes back.
      await this.refuseSpentKey(tx, 'wg', input.wgKey);
      await this.refuseSpentKey(tx, 'identity', input.identityKey);
      const lifetimes = (tags: readonly string[]): NodeKeyLifetimes => input.lifetimes?.(tags) ?? { nodeTtlMs: null, identityLifetimeMs: 0 };
      const identityExpiry = (tags: readonly string[]) => {
        const ms = lifetimes(tags).identityLifetimeMs;
        return ms > 0 ? input.now + ms : null;
      };
      const nodeTtl = (tags: readonly string[]) => key.nodeTtlMs ?? lifetimes(tags).nodeTtlMs;

      const existing = await this.nodeRow(tx, 'SELECT * FROM nodes WHERE identity_key = $1 AND revoked = 0', [input.identityKey]);
      if (existing) {
        // Enrollment is unsigned, so a known identity may only get its own node back, never change it.
        if (existing.wgKey !== input.wgKey || existing.name !== input.name) throw errors.keyInUse();
        const expired = existing.expiresAt !== null && existing.expiresAt <= input.now;
        // A revoked or lapsed key enrols nothing, not even the node it enrolled before.
        if (key.revoked) throw errors.enrollKeyRevoked();
        if (key.expiresAt <= input.now) throw errors.enrollKeyExpired(key.expiresAt);
        if (!expired && existing.authKeyId === key.id) {
          await audit('node.reenrolled', existing, { usesCounted: false });
          return { node: existing, outcome: 'reenrolled', replaced: null };
        }
        checkAuthKeyUsable(key, input.now);
        await countUse();
        const ttl = nodeTtl(existing.tags);
        const expiresAt = expired ? (ttl === null ? null : input.now + ttl) : existing.expiresAt;
        // The auth key vouches for the node again, so its identity credential starts a new lifetime.
        const identityExpiresAt = identityExpiry(existing.tags);
        await tx.run('UPDATE nodes SET expires_at = $1, auth_key_id = $2, identity_expires_at = $3 WHERE id = $4', [expiresAt, key.id, identityExpiresAt, existing.id]);
        const node = { ...existing, expiresAt, authKeyId: key.id, identityExpiresAt };
        await audit(expired ? 'node.renewed' : 'node.reenrolled', node, { usesCounted: true });
        tx.notify({ kind: 'node', nodeId: node.id, reason: `${node.name} ${expired ? 'renewed' : 're-enrolled'}` });
        return { node, outcome: expired ? 'renewed' : 'reenrolled', replaced: null };
      }

      checkAuthKeyUsable(key, input.now);
      let replaced: NodeRecord | null = null;
      const holder = await this.nodeRow(tx, 'SELECT * FROM nodes WHERE name = $1 AND revoked = 0', [input.name]);
      if (holder) {
        const holderExpired = holder.expiresAt !== null && holder.expiresAt <= input.now;
        if (!holderExpired) throw errors.nameTaken(input.name);
        await tx.run('UPDATE nodes SET revoked = 1, revoked_at = $1 WHERE id = $2', [input.now, holder.id]);
        await this.revokeKeys(tx, holder.id, input.now);
        replaced = { ...holder, revoked: true, revokedAt: input.now };
        await this.d.audit.appendIn(tx, {
          at: input.now,
          action: 'node.revoked',
          actor: 'system',
          target: holder.id,
          details: { name: holder.name, reason: 'expired node replaced by a new enrollment with the same name' },
        });
        tx.notify({ kind: 'node', nodeId: holder.id, reason: `${holder.name} replaced` });
      }
      if (await tx.row('SELECT 1 FROM nodes WHERE wg_key = $1 AND revoked = 0', [input.wgKey])) throw errors.keyInUse();

      const index = await this.allocateIndex(tx, Number((await meta.getIn(tx, META_CURSOR)) ?? '1'));
      const { ipv4, ipv6 } = pool.addressAt(index);
      const ttl = nodeTtl(key.tags);
      const expiresAt = ttl === null ? null : input.now + ttl;
      await tx.run(
        `INSERT INTO nodes (id, name, hostname, owner_user, tags, wg_key, identity_key, addr_index, ipv4, ipv6, endpoints,
           auth_key_id, last_seen, created_at, expires_at, approved, wg_key_created_at, identity_expires_at, relay_port)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
        [
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
        ],
      );
      await this.addKey(tx, 'wg', input.wgKey, input.newNodeId, input.now);
      await this.addKey(tx, 'identity', input.identityKey, input.newNodeId, input.now);
      await meta.setIn(tx, META_CURSOR, String((index % pool.size) + 1));
      await countUse();
      const node = (await this.byId(tx, input.newNodeId)) as NodeRecord;
      await audit('node.enrolled', node, { ipv4, ipv6, replaced: replaced?.id ?? null, user: node.user, approved: node.approved });
      tx.notify({ kind: 'node', nodeId: node.id, reason: `enroll ${node.name}` });
      return { node, outcome: 'created', replaced };
    });
  }

  getNode(id: string): Promise<NodeRecord | null> {
    return this.byId(this.db.query, id);
  }

  async findNode(idOrName: string): Promise<NodeRecord | null> {
    return (
      (await this.byId(this.db.query, idOrName)) ??
      (await this.nodeRow(this.db.query, 'SELECT * FROM nodes WHERE name = $1 ORDER BY revoked ASC, created_at DESC LIMIT 1', [idOrName]))
    );
  }

  async listNodes(): Promise<NodeRecord[]> {
    return (await this.db.query.rows<NodeRow>('SELECT * FROM nodes ORDER BY id COLLATE "C"')).map(toNode);
  }

  async revokeNode(id: string, at: number, audit: AuditEntry): Promise<NodeRecord> {
    return this.db.write(async (tx) => {
      const node = await this.byId(tx, id);
      if (!node) throw errors.notFound(`node ${id}`);
      if (!node.revoked) {
        await tx.run('UPDATE nodes SET revoked = 1, revoked_at = $1 WHERE id = $2', [at, id]);
        await this.revokeKeys(tx, id, at);
        tx.notify({ kind: 'node', nodeId: id, reason: `revoke ${node.name}` });
      }
      await this.d.audit.appendIn(tx, audit);
      return node.revoked ? node : { ...node, revoked: true, revokedAt: at };
    });
  }

  async setEndpoints(id: string, endpoints: string[], candidates: EndpointCandidate[] | null = null): Promise<boolean> {
    const json = JSON.stringify(endpoints);
    const c = candidates === null ? null : JSON.stringify(candidates);
    return this.db.transaction(async (tx) => {
      const changed = (await tx.run('UPDATE nodes SET endpoints = $1, candidates = $3 WHERE id = $2 AND (endpoints <> $1 OR candidates IS DISTINCT FROM $3)', [json, id, c])) > 0;
      if (changed) tx.notify({ kind: 'node', nodeId: id, reason: 'endpoints' });
      return changed;
    });
  }

  async setFacts(id: string, facts: Facts, posture: PostureDecision | null): Promise<boolean> {
    const f = JSON.stringify(facts);
    const p = posture === null ? null : JSON.stringify(posture);
    return this.db.transaction(async (tx) => {
      const changed = (await tx.run('UPDATE nodes SET facts = $1, posture = $2 WHERE id = $3 AND (facts IS DISTINCT FROM $1 OR posture IS DISTINCT FROM $2)', [f, p, id])) > 0;
      if (changed) tx.notify({ kind: 'node', nodeId: id, reason: 'facts' });
      return changed;
    });
  }

  async setRelay(id: string, relay: RelayOffer | null): Promise<boolean> {
    const port = relay?.port ?? null;
    return this.db.transaction(async (tx) => {
      const changed = (await tx.run('UPDATE nodes SET relay_port = $1 WHERE id = $2 AND relay_port IS DISTINCT FROM $1', [port, id])) > 0;
      if (changed) tx.notify({ kind: 'node', nodeId: id, reason: 'relay' });
      return changed;
    });
  }

  async touchNode(id: string, at: number): Promise<void> {
    await this.db.query.run('UPDATE nodes SET last_seen = $1 WHERE id = $2 AND (last_seen IS NULL OR last_seen < $1)', [at, id]);
  }

  async approveNode(id: string, at: number, audit: AuditEntry): Promise<NodeRecord> {
    return this.db.write(async (tx) => {
      const node = await this.byId(tx, id);
      if (!node) throw errors.notFound(`node ${id}`);
      if (!node.approved) {
        await tx.run('UPDATE nodes SET approved = 1, approved_at = $1 WHERE id = $2', [at, id]);
        tx.notify({ kind: 'node', nodeId: id, reason: `approve ${node.name}` });
      }
      await this.d.audit.appendIn(tx, audit);
      return { ...node, approved: true };
    });
  }

  async rotateWgKey(id: string, wgKey: string, at: number, audit: AuditEntry): Promise<NodeRecord> {
    return this.db.write(async (tx) => {
      const node = await this.liveNode(tx, id, at);
      if (node.wgKey === wgKey) return node;
      await this.checkNewKey(tx, 'wg', wgKey);
      await this.retireKey(tx, 'wg', node.wgKey, at);
      await this.addKey(tx, 'wg', wgKey, id, at);
      await tx.run('UPDATE nodes SET wg_key = $1, wg_key_created_at = $2, rotate_requested_at = NULL WHERE id = $3', [wgKey, at, id]);
      await this.d.audit.appendIn(tx, audit);
      tx.notify({ kind: 'node', nodeId: id, reason: `WireGuard key of ${node.name} rotated` });
      return { ...node, wgKey, wgKeyCreatedAt: at, rotateRequestedAt: null };
    });
  }

  async renewIdentity(id: string, identityKey: string, expiresAt: number, at: number, audit: AuditEntry): Promise<NodeRecord> {
    return this.db.write(async (tx) => {
      const node = await this.liveNode(tx, id, at);
      if (node.identityKey !== identityKey) {
        await this.checkNewKey(tx, 'identity', identityKey);
        await this.retireKey(tx, 'identity', node.identityKey, at);
        await this.addKey(tx, 'identity', identityKey, id, at);
      }
      await tx.run('UPDATE nodes SET identity_key = $1, identity_expires_at = $2 WHERE id = $3', [identityKey, expiresAt, id]);
      await this.d.audit.appendIn(tx, audit);
      tx.notify({ kind: 'node', nodeId: id, reason: `identity of ${node.name} renewed` });
      return { ...node, identityKey, identityExpiresAt: expiresAt };
    });
  }

  async requestKeyRotation(ids: readonly string[], at: number, audit: (node: NodeRecord) => AuditEntry): Promise<NodeRecord[]> {
    return this.db.write(async (tx) => {
      const nodes: NodeRecord[] = [];
      for (const id of ids) nodes.push(await this.liveNode(tx, id, at));
      const out: NodeRecord[] = [];
      for (const n of nodes) {
        await tx.run('UPDATE nodes SET rotate_requested_at = $1 WHERE id = $2', [at, n.id]);
        await this.d.audit.appendIn(tx, audit(n));
        tx.notify({ kind: 'node', nodeId: n.id, reason: `rotation of ${n.name} requested` });
        out.push({ ...n, rotateRequestedAt: at });
      }
      return out;
    });
  }

  async setNodeExpiry(id: string, expiresAt: number, now: number, audit: AuditEntry): Promise<NodeRecord> {
    return this.db.write(async (tx) => {
      const node = await this.liveNode(tx, id, now);
      await tx.run('UPDATE nodes SET expires_at = $1 WHERE id = $2', [expiresAt, id]);
      await this.d.audit.appendIn(tx, audit);
      tx.notify({ kind: 'node', nodeId: id, reason: `expiry of ${node.name} set` });
      return { ...node, expiresAt };
    });
  }

  async giveIdentityLifetimes(expiresAt: (node: NodeRecord) => number | null, at: number): Promise<number> {
    return this.db.write(async (tx) => {
      const rows = (await tx.rows<NodeRow>('SELECT * FROM nodes WHERE revoked = 0 AND identity_expires_at IS NULL')).map(toNode);
      let n = 0;
      for (const node of rows) {
        if (isExpired(node, at)) continue;
        const when = expiresAt(node);
        if (when === null) continue;
        await tx.run('UPDATE nodes SET identity_expires_at = $1 WHERE id = $2', [when, node.id]);
        n++;
      }
      return n;
    });
  }
}
