/**
 * store: the controller's durable state behind one interface, composed of one repository per
 * aggregate (nodes, auth keys, users and groups, policies, audit, nonces, meta). Every method is
 * one atomic operation, so a failure never leaves half a write behind; the interface is async so
 * that a networked store (PostgreSQL) can implement it as well as SQLite does (sqlite/).
 */
import type { AuditRepository } from './audit-repository';
import type { AuthKeyRepository } from './auth-key-repository';
import type { MetaRepository } from './meta-repository';
import type { NodeRepository } from './node-repository';
import type { NonceRepository } from './nonce-repository';
import type { PolicyRepository } from './policy-repository';
import type { PresenceRepository } from './presence-repository';
import type { StoreChangeFeed } from './store-changes';
import type { RotationLeaseRepository } from './rotation-lease-repository';
import type { RouteRepository } from './route-repository';
import type { UserGroupRepository } from './user-group-repository';

export type { AuditEntry, AuditRepository } from './audit-repository';
export type { AuthKeyRecord, AuthKeyRepository, NewAuthKey } from './auth-key-repository';
export type { MetaRepository } from './meta-repository';
export type { EnrollInput, EnrollOutcome, EnrollResult, NodeKeyLifetimes, NodeRecord, NodeRepository } from './node-repository';
export type { NonceRepository } from './nonce-repository';
export type { PolicyActivation, PolicyRepository, PolicyVersionRecord } from './policy-repository';
export type { ControllerRecord, NodeStreamRecord, PresenceRepository } from './presence-repository';
export type { DeliveredChange, StoreChange, StoreChangeFeed, StoreChangeListener } from './store-changes';
export type { RotationLeaseOutcome, RotationLeaseRepository } from './rotation-lease-repository';
export type { RouteDecision, RouteRecord, RouteRepository, RouteStatus } from './route-repository';
export type { GroupRecord, RemoveUserResult, UserGroupRepository, UserRecord } from './user-group-repository';

export interface Store
  extends MetaRepository,
    AuthKeyRepository,
    NodeRepository,
    NonceRepository,
    UserGroupRepository,
    PolicyRepository,
    RouteRepository,
    AuditRepository,
    PresenceRepository,
    RotationLeaseRepository {
  /** Short name of the backend, e.g. "sqlite" or "postgres". */
  readonly kind: string;
  /** Where the state lives, for people: a file path, or a URL without its password. */
  readonly location: string;
  /**
   * Changes made by other controllers sharing this store (PostgreSQL); null for a store only this
   * process uses (SQLite).
   */
  readonly changes: StoreChangeFeed | null;
  /** The applied schema versions, oldest first. */
  schemaVersions(): Promise<number[]>;
  /** Overlay prefixes the store allocates from. */
  readonly overlay: { ipv4Cidr: string; ipv6Prefix: string };
  close(): Promise<void>;
}
