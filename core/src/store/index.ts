/**
 * store: durable controller state. Import the Store interface and the SQLite implementation from here.
 */
export { AddressPool, DEFAULT_IPV4_CIDR, DEFAULT_IPV6_PREFIX } from './address-pool';
export { checkAuthKeyUsable } from './auth-key-rules';
export { SQLITE_MIGRATIONS } from './migrations';
export type { Migration } from './migrations';
export { hashSecret, secretMatches } from './secret-hash';
export { SqliteStore } from './sqlite-store';
export type { SqliteStoreOptions } from './sqlite-store';
export type {
  AuditEntry,
  AuthKeyRecord,
  EnrollInput,
  EnrollOutcome,
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
