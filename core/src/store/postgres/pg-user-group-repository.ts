import { errors } from '../../errors';
import type { AuditEntry } from '../audit-repository';
import type { NodeRecord } from '../node-repository';
import type { GroupRecord, RemoveUserResult, UserGroupRepository, UserRecord } from '../user-group-repository';
import type { PgAuditRepository } from './pg-audit-repository';
import type { PgDatabase, PgQuery, PgTx } from './pg-database';

export interface PgUserGroupRepositoryDeps {
  db: PgDatabase;
  audit: PgAuditRepository;
  /** Removing a user revokes what it owns, in the same transaction. */
  revokeNodesOf: (tx: PgTx, user: string, at: number) => Promise<NodeRecord[]>;
  revokeKeysOf: (tx: PgTx, user: string) => Promise<string[]>;
}

/** PgUserGroupRepository: users and groups; every change that can alter who sees whom announces a mesh change. */
export class PgUserGroupRepository implements UserGroupRepository {
  private readonly db: PgDatabase;

  constructor(private readonly d: PgUserGroupRepositoryDeps) {
    this.db = d.db;
  }

  /** ensureUserIn records a user (an auth key's owner) that is not one yet. */
  async ensureUserIn(q: PgQuery, name: string, at: number): Promise<void> {
    await q.run('INSERT INTO users (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING', [name, at]);
  }

  private async user(q: PgQuery, name: string): Promise<UserRecord | null> {
    const row = await q.row<{ name: string; created_at: number }>('SELECT name, created_at FROM users WHERE name = $1', [name]);
    if (!row) return null;
    const groups = (await q.rows<{ group_name: string }>('SELECT group_name FROM group_members WHERE user_name = $1 ORDER BY group_name COLLATE "C"', [name])).map((r) => r.group_name);
    return { name: row.name, groups, createdAt: row.created_at };
  }

  private async group(q: PgQuery, name: string): Promise<GroupRecord | null> {
    const row = await q.row<{ name: string; created_at: number }>('SELECT name, created_at FROM groups WHERE name = $1', [name]);
    if (!row) return null;
    const members = (await q.rows<{ user_name: string }>('SELECT user_name FROM group_members WHERE group_name = $1 ORDER BY user_name COLLATE "C"', [name])).map((r) => r.user_name);
    return { name: row.name, members, createdAt: row.created_at };
  }

  async listUsers(): Promise<UserRecord[]> {
    const users = await this.db.query.rows<{ name: string; created_at: number }>('SELECT name, created_at FROM users ORDER BY name COLLATE "C"');
    const groups = await this.userGroups();
    return users.map((u) => ({ name: u.name, groups: groups[u.name] ?? [], createdAt: u.created_at }));
  }

  async addUser(name: string, at: number, audit: AuditEntry): Promise<UserRecord> {
    return this.db.write(async (tx) => {
      if (await this.user(tx, name)) throw errors.alreadyExists(`user "${name}"`);
      await tx.run('INSERT INTO users (name, created_at) VALUES ($1, $2)', [name, at]);
      await this.d.audit.appendIn(tx, audit);
      return (await this.user(tx, name)) as UserRecord;
    });
  }

  async removeUser(name: string, at: number, audit: AuditEntry): Promise<RemoveUserResult> {
    return this.db.write(async (tx) => {
      const user = await this.user(tx, name);
      if (!user) throw errors.notFound(`user "${name}"`);
      const nodes = await this.d.revokeNodesOf(tx, name, at);
      const keys = await this.d.revokeKeysOf(tx, name);
      await tx.run('DELETE FROM group_members WHERE user_name = $1', [name]);
      await tx.run('DELETE FROM users WHERE name = $1', [name]);
      await this.d.audit.appendIn(tx, { ...audit, details: { ...(audit.details ?? {}), revokedNodes: nodes.map((n) => n.name), revokedKeys: keys, groups: user.groups } });
      tx.notify({ kind: 'mesh', reason: `user ${name} removed` });
      return { name, revokedNodes: nodes, revokedKeys: keys };
    });
  }

  async listGroups(): Promise<GroupRecord[]> {
    const groups = await this.db.query.rows<{ name: string; created_at: number }>('SELECT name, created_at FROM groups ORDER BY name COLLATE "C"');
    const members = await this.db.query.rows<{ group_name: string; user_name: string }>('SELECT group_name, user_name FROM group_members ORDER BY user_name COLLATE "C"');
    return groups.map((g) => ({ name: g.name, members: members.filter((m) => m.group_name === g.name).map((m) => m.user_name), createdAt: g.created_at }));
  }

  async addGroup(name: string, at: number, audit: AuditEntry): Promise<GroupRecord> {
    return this.db.write(async (tx) => {
      if (await this.group(tx, name)) throw errors.alreadyExists(`group "${name}"`);
      await tx.run('INSERT INTO groups (name, created_at) VALUES ($1, $2)', [name, at]);
      await this.d.audit.appendIn(tx, audit);
      tx.notify({ kind: 'mesh', reason: `group ${name} added` });
      return (await this.group(tx, name)) as GroupRecord;
    });
  }

  async removeGroup(name: string, audit: AuditEntry): Promise<GroupRecord> {
    return this.db.write(async (tx) => {
      const group = await this.group(tx, name);
      if (!group) throw errors.notFound(`group "${name}"`);
      await tx.run('DELETE FROM group_members WHERE group_name = $1', [name]);
      await tx.run('DELETE FROM groups WHERE name = $1', [name]);
      await this.d.audit.appendIn(tx, { ...audit, details: { ...(audit.details ?? {}), members: group.members } });
      tx.notify({ kind: 'mesh', reason: `group ${name} removed` });
      return group;
    });
  }

  async addGroupMember(group: string, user: string, at: number, audit: AuditEntry): Promise<GroupRecord> {
    return this.db.write(async (tx) => {
      if (!(await this.group(tx, group))) throw errors.notFound(`group "${group}"`);
      if (!(await this.user(tx, user))) throw errors.notFound(`user "${user}" (add it with \`trellis users add ${user}\`)`);
      await tx.run('INSERT INTO group_members (group_name, user_name, added_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [group, user, at]);
      await this.d.audit.appendIn(tx, audit);
      tx.notify({ kind: 'mesh', reason: `group ${group} +${user}` });
      return (await this.group(tx, group)) as GroupRecord;
    });
  }

  async removeGroupMember(group: string, user: string, audit: AuditEntry): Promise<GroupRecord> {
    return this.db.write(async (tx) => {
      const g = await this.group(tx, group);
      if (!g) throw errors.notFound(`group "${group}"`);
      if (!g.members.includes(user)) throw errors.notFound(`user "${user}" in group "${group}"`);
      await tx.run('DELETE FROM group_members WHERE group_name = $1 AND user_name = $2', [group, user]);
      await this.d.audit.appendIn(tx, audit);
      tx.notify({ kind: 'mesh', reason: `group ${group} -${user}` });
      return (await this.group(tx, group)) as GroupRecord;
    });
  }

  async userGroups(): Promise<Record<string, string[]>> {
    const rows = await this.db.query.rows<{ user_name: string; group_name: string }>('SELECT user_name, group_name FROM group_members ORDER BY user_name COLLATE "C", group_name COLLATE "C"');
    const out: Record<string, string[]> = {};
    for (const r of rows) (out[r.user_name] ??= []).push(r.group_name);
    return out;
  }
}
