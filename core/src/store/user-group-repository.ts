/** Users (who own nodes and auth keys) and groups of users, which access policies name. */
import type { AuditEntry } from './audit-repository';
import type { NodeRecord } from './node-repository';

export interface UserRecord {
  name: string;
  /** Groups the user belongs to, sorted. */
  groups: string[];
  createdAt: number;
}

export interface GroupRecord {
  name: string;
  /** Member user names, sorted. */
  members: string[];
  createdAt: number;
}

export interface RemoveUserResult {
  name: string;
  revokedNodes: NodeRecord[];
  revokedKeys: string[];
}

export interface UserGroupRepository {
  /** Users own nodes and auth keys; creating an auth key for an unknown user records the user. */
  listUsers(): Promise<UserRecord[]>;
  /** Throws ALREADY_EXISTS. */
  addUser(name: string, at: number, audit: AuditEntry): Promise<UserRecord>;
  /** removeUser revokes the user's live nodes and keys, drops its memberships and the user, in one transaction. */
  removeUser(name: string, at: number, audit: AuditEntry): Promise<RemoveUserResult>;
  listGroups(): Promise<GroupRecord[]>;
  addGroup(name: string, at: number, audit: AuditEntry): Promise<GroupRecord>;
  removeGroup(name: string, audit: AuditEntry): Promise<GroupRecord>;
  /** Both must exist (NOT_FOUND); adding a member twice is a no-op. */
  addGroupMember(group: string, user: string, at: number, audit: AuditEntry): Promise<GroupRecord>;
  removeGroupMember(group: string, user: string, audit: AuditEntry): Promise<GroupRecord>;
  /** user name -> its groups, for every user in some group. */
  userGroups(): Promise<Record<string, string[]>>;
}
