/**
 * store: durable controller state. Import the Store interface and the SQLite implementation from here.
 */
export { AddressPool, DEFAULT_IPV4_CIDR, DEFAULT_IPV6_PREFIX } from './address-pool';
export { checkAuthKeyUsable } from './auth-key-rules';
export { SQLITE_MIGRATIONS } from './sqlite/migrations';
export type { Migration, SqlDialect } from './schema-migrations';
export { hashSecret, secretMatches } from './secret-hash';
export { SqliteStore } from './sqlite/sqlite-store';
export { PgStore } from './postgres/pg-store';
export { POSTGRES_MIGRATIONS } from './postgres/pg-migrations';
export { parsePostgresUrl, redactUrl } from './postgres/pg-database';
export { verifySqliteAuditOffline } from './sqlite/sqlite-audit-reader';
export { AuditChainVerifier, auditEntryHash, GENESIS_HASH, verifyAuditChain, verifyAuditPages } from './audit-chain';
export type { AuditSigner } from './audit-chain';
export type { SqliteStoreOptions } from './sqlite/sqlite-store';
export type { PgStoreOptions } from './postgres/pg-store';
export type {
  AuditEntry,
  AuditRepository,
  AuthKeyRecord,
  AuthKeyRepository,
  ControllerRecord,
  DeliveredChange,
  EnrollInput,
  EnrollOutcome,
  EnrollResult,
  GroupRecord,
  MetaRepository,
  NewAuthKey,
  NodeKeyLifetimes,
  NodeRecord,
  NodeRepository,
  NodeStreamRecord,
  NonceRepository,
  PolicyActivation,
  PolicyRepository,
  PolicyVersionRecord,
  PresenceRepository,
  RemoveUserResult,
  RotationLeaseOutcome,
  RotationLeaseRepository,
  RouteDecision,
  RouteRecord,
  RouteRepository,
  RouteStatus,
  Store,
  StoreChange,
  StoreChangeFeed,
  StoreChangeListener,
  UserGroupRepository,
  UserRecord,
} from './store';
