import type Database from 'better-sqlite3';
import { errors } from '../../errors';
import type { AuditEntry } from '../audit-repository';
import type { NodeRecord } from '../node-repository';
import type { GroupRecord, RemoveUserResult, UserGroupRepository, UserRecord } from '../user-group-repository';
import type { SqliteAuditRepository } from './sqlite-audit-repository';

export interface SqliteUserGroupRepositoryDeps {
  db: Database.Database;
  audit: SqliteAuditRepository;
  /** Removing a user revokes what it owns, in the same transaction. */
  revokeNodesOf: (user: string, at: number) => NodeRecord[];
  revokeKeysOf: (user: string) => string[];
}

export class SqliteUserGroupRepository implements UserGroupRepository {
  private readonly db: Database.Database;

  constructor(private readonly d: SqliteUserGroupRepositoryDeps) {
    this.db = d.db;
  }

  /** ensureUserSync records a user (an auth key's owner) that is not one yet. */
  ensureUserSync(name: string, at: number): void {
    this.db.prepare('INSERT OR IGNORE INTO users (name, created_at) VALUES (?, ?)').run(name, at);
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
      this.d.audit.appendSync(audit);
      return this.userSync(name) as UserRecord;
    })();
  }

  async removeUser(name: string, at: number, audit: AuditEntry): Promise<RemoveUserResult> {
    return this.db.transaction(() => {
      const user = this.userSync(name);
      if (!user) throw errors.notFound(`user "${name}"`);
      const nodes = this.d.revokeNodesOf(name, at);
      const keys = this.d.revokeKeysOf(name);
      this.db.prepare('DELETE FROM group_members WHERE user_name = ?').run(name);
      this.db.prepare('DELETE FROM users WHERE name = ?').run(name);
      this.d.audit.appendSync({ ...audit, details: { ...(audit.details ?? {}), revokedNodes: nodes.map((n) => n.name), revokedKeys: keys, groups: user.groups } });
      return { name, revokedNodes: nodes, revokedKeys: keys };
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
      this.d.audit.appendSync(audit);
      return this.groupSync(name) as GroupRecord;
    })();
  }

  async removeGroup(name: string, audit: AuditEntry): Promise<GroupRecord> {
    return this.db.transaction(() => {
      const group = this.groupSync(name);
      if (!group) throw errors.notFound(`group "${name}"`);
      this.db.prepare('DELETE FROM group_members WHERE group_name = ?').run(name);
      this.db.prepare('DELETE FROM groups WHERE name = ?').run(name);
      this.d.audit.appendSync({ ...audit, details: { ...(audit.details ?? {}), members: group.members } });
      return group;
    })();
  }

  async addGroupMember(group: string, user: string, at: number, audit: AuditEntry): Promise<GroupRecord> {
    return this.db.transaction(() => {
      if (!this.groupSync(group)) throw errors.notFound(`group "${group}"`);
      if (!this.userSync(user)) throw errors.notFound(`user "${user}" (add it with \`trellis users add ${user}\`)`);
      this.db.prepare('INSERT OR IGNORE INTO group_members (group_name, user_name, added_at) VALUES (?, ?, ?)').run(group, user, at);
      this.d.audit.appendSync(audit);
      return this.groupSync(group) as GroupRecord;
    })();
  }

  async removeGroupMember(group: string, user: string, audit: AuditEntry): Promise<GroupRecord> {
    return this.db.transaction(() => {
      const g = this.groupSync(group);
      if (!g) throw errors.notFound(`group "${group}"`);
      if (!g.members.includes(user)) throw errors.notFound(`user "${user}" in group "${group}"`);
      this.db.prepare('DELETE FROM group_members WHERE group_name = ? AND user_name = ?').run(group, user);
      this.d.audit.appendSync(audit);
      return this.groupSync(group) as GroupRecord;
    })();
  }

  async userGroups(): Promise<Record<string, string[]>> {
    const rows = this.db.prepare('SELECT user_name, group_name FROM group_members ORDER BY user_name, group_name').all() as Array<{ user_name: string; group_name: string }>;
    const out: Record<string, string[]> = {};
    for (const r of rows) (out[r.user_name] ??= []).push(r.group_name);
    return out;
  }
}
