/**
 * store: durable controller state. Import the Store interface and the SQLite implementation from here.
 */
export { AddressPool, DEFAULT_IPV4_CIDR, DEFAULT_IPV6_PREFIX } from './address-pool';
export { checkAuthKeyUsable } from './auth-key-rules';
export { SQLITE_MIGRATIONS } from './sqlite/migrations';
export type { Migration } from './sqlite/migrations';
export { hashSecret, secretMatches } from './secret-hash';
export { SqliteStore } from './sqlite/sqlite-store';
export { verifySqliteAuditOffline } from './sqlite/sqlite-audit-reader';
export { AuditChainVerifier, auditEntryHash, GENESIS_HASH, verifyAuditChain, verifyAuditPages } from './audit-chain';
export type { AuditSigner } from './audit-chain';
export type { SqliteStoreOptions } from './sqlite/sqlite-store';
export type {
  AuditEntry,
  AuditRepository,
  AuthKeyRecord,
  AuthKeyRepository,
  EnrollInput,
  EnrollOutcome,
  EnrollResult,
  GroupRecord,
  MetaRepository,
  NewAuthKey,
  NodeKeyLifetimes,
  NodeRecord,
  NodeRepository,
  NonceRepository,
  PolicyActivation,
  PolicyRepository,
  PolicyVersionRecord,
  RemoveUserResult,
  Store,
  UserGroupRepository,
  UserRecord,
} from './store';
