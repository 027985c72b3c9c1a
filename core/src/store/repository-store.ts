/**
 * RepositoryStore is a Store made of one repository per aggregate, each Store method being its
 * repository's. SqliteStore and PgStore build the repositories over their own database and add what
 * is theirs: opening, the schema's versions, where it lives and closing.
 */
import type { Facts, PostureDecision } from '../api/hooks';
import type { AdvertisedRoute } from '../netmap/route-rules';
import type { EndpointCandidate, RelayOffer } from '../netmap/types';
import type { AuditEvent, AuditQuery, AuditVerifyReport } from '../wire';
import type { AuditRepository } from './audit-repository';
import type { AuthKeyRepository } from './auth-key-repository';
import type { MetaRepository } from './meta-repository';
import type { NodeRepository } from './node-repository';
import type { NonceRepository } from './nonce-repository';
import type { PolicyRepository } from './policy-repository';
import type { PresenceRepository } from './presence-repository';
import type { RotationLeaseRepository } from './rotation-lease-repository';
import type { RouteRepository } from './route-repository';
import type { UserGroupRepository } from './user-group-repository';
import type {
  AuditEntry,
  AuthKeyRecord,
  ControllerRecord,
  EnrollInput,
  EnrollResult,
  GroupRecord,
  NewAuthKey,
  NodeRecord,
  NodeStreamRecord,
  PolicyActivation,
  PolicyVersionRecord,
  RemoveUserResult,
  RotationLeaseOutcome,
  RouteDecision,
  RouteRecord,
  Store,
  StoreChangeFeed,
  UserRecord,
} from './store';

export abstract class RepositoryStore implements Store {
  abstract readonly kind: string;
  abstract readonly location: string;
  abstract readonly changes: StoreChangeFeed | null;
  abstract readonly overlay: { ipv4Cidr: string; ipv6Prefix: string };
  abstract schemaVersions(): Promise<number[]>;
  abstract close(): Promise<void>;

  protected abstract readonly audit: AuditRepository;
  protected abstract readonly meta: MetaRepository;
  protected abstract readonly nonces: NonceRepository;
  protected abstract readonly keys: AuthKeyRepository;
  protected abstract readonly nodes: NodeRepository;
  protected abstract readonly usersAndGroups: UserGroupRepository;
  protected abstract readonly policies: PolicyRepository;
  protected abstract readonly presence: PresenceRepository;
  protected abstract readonly rotationLeases: RotationLeaseRepository;
  protected abstract readonly routeRepo: RouteRepository;

  getMeta(key: string): Promise<string | null> {
    return this.meta.getMeta(key);
  }
  setMeta(key: string, value: string, audit?: AuditEntry): Promise<void> {
    return this.meta.setMeta(key, value, audit);
  }

  createAuthKey(key: NewAuthKey, audit: AuditEntry): Promise<AuthKeyRecord> {
    return this.keys.createAuthKey(key, audit);
  }
  listAuthKeys(): Promise<AuthKeyRecord[]> {
    return this.keys.listAuthKeys();
  }
  revokeAuthKey(id: string, audit: AuditEntry): Promise<AuthKeyRecord> {
    return this.keys.revokeAuthKey(id, audit);
  }

  enrollNode(input: EnrollInput): Promise<EnrollResult> {
    return this.nodes.enrollNode(input);
  }
  getNode(id: string): Promise<NodeRecord | null> {
    return this.nodes.getNode(id);
  }
  findNode(idOrName: string): Promise<NodeRecord | null> {
    return this.nodes.findNode(idOrName);
  }
  listNodes(): Promise<NodeRecord[]> {
    return this.nodes.listNodes();
  }
  revokeNode(id: string, at: number, audit: AuditEntry): Promise<NodeRecord> {
    return this.nodes.revokeNode(id, at, audit);
  }
  setEndpoints(id: string, endpoints: string[], candidates?: EndpointCandidate[] | null): Promise<boolean> {
    return this.nodes.setEndpoints(id, endpoints, candidates);
  }
  setRelay(id: string, relay: RelayOffer | null): Promise<boolean> {
    return this.nodes.setRelay(id, relay);
  }
  setFacts(id: string, facts: Facts, posture: PostureDecision | null): Promise<boolean> {
    return this.nodes.setFacts(id, facts, posture);
  }
  touchNode(id: string, at: number): Promise<void> {
    return this.nodes.touchNode(id, at);
  }
  approveNode(id: string, at: number, audit: AuditEntry): Promise<NodeRecord> {
    return this.nodes.approveNode(id, at, audit);
  }

  consumeNonce(nodeId: string, nonce: string, expiresAt: number): Promise<boolean> {
    return this.nonces.consumeNonce(nodeId, nonce, expiresAt);
  }
  purgeNonces(now: number): Promise<number> {
    return this.nonces.purgeNonces(now);
  }

  listUsers(): Promise<UserRecord[]> {
    return this.usersAndGroups.listUsers();
  }
  addUser(name: string, at: number, audit: AuditEntry): Promise<UserRecord> {
    return this.usersAndGroups.addUser(name, at, audit);
  }
  removeUser(name: string, at: number, audit: AuditEntry): Promise<RemoveUserResult> {
    return this.usersAndGroups.removeUser(name, at, audit);
  }
  listGroups(): Promise<GroupRecord[]> {
    return this.usersAndGroups.listGroups();
  }
  addGroup(name: string, at: number, audit: AuditEntry): Promise<GroupRecord> {
    return this.usersAndGroups.addGroup(name, at, audit);
  }
  removeGroup(name: string, audit: AuditEntry): Promise<GroupRecord> {
    return this.usersAndGroups.removeGroup(name, audit);
  }
  addGroupMember(group: string, user: string, at: number, audit: AuditEntry): Promise<GroupRecord> {
    return this.usersAndGroups.addGroupMember(group, user, at, audit);
  }
  removeGroupMember(group: string, user: string, audit: AuditEntry): Promise<GroupRecord> {
    return this.usersAndGroups.removeGroupMember(group, user, audit);
  }
  userGroups(): Promise<Record<string, string[]>> {
    return this.usersAndGroups.userGroups();
  }

  activatePolicy(version: PolicyVersionRecord, activation: { at: number; actor: string; kind: string }, audit: AuditEntry, bundle?: Buffer): Promise<void> {
    return this.policies.activatePolicy(version, activation, audit, bundle);
  }
  policyBundle(version: string): Promise<Buffer | null> {
    return this.policies.policyBundle(version);
  }
  rollbackPolicy(activation: { at: number; actor: string }, audit: (from: string, to: string) => AuditEntry): Promise<{ from: string; to: PolicyVersionRecord }> {
    return this.policies.rollbackPolicy(activation, audit);
  }
  activePolicy(): Promise<(PolicyVersionRecord & { activatedAt: number }) | null> {
    return this.policies.activePolicy();
  }
  listPolicyVersions(): Promise<PolicyVersionRecord[]> {
    return this.policies.listPolicyVersions();
  }
  listPolicyActivations(): Promise<PolicyActivation[]> {
    return this.policies.listPolicyActivations();
  }

  listRoutes(): Promise<RouteRecord[]> {
    return this.routeRepo.listRoutes();
  }
  advertiseRoutes(nodeId: string, routes: readonly AdvertisedRoute[], at: number, audit: AuditEntry): Promise<{ routes: RouteRecord[]; changed: boolean }> {
    return this.routeRepo.advertiseRoutes(nodeId, routes, at, audit);
  }
  decideRoute(nodeId: string, prefix: string, decision: RouteDecision, audit: AuditEntry | null, guard?: (all: readonly RouteRecord[]) => void): Promise<RouteRecord> {
    return this.routeRepo.decideRoute(nodeId, prefix, decision, audit, guard);
  }

  appendAudit(entry: AuditEntry): Promise<AuditEvent> {
    return this.audit.appendAudit(entry);
  }
  listAudit(limit: number): Promise<AuditEvent[]> {
    return this.audit.listAudit(limit);
  }
  queryAudit(query: AuditQuery): Promise<AuditEvent[]> {
    return this.audit.queryAudit(query);
  }
  readAuditPage(afterSeq: number, limit: number): Promise<AuditEvent[]> {
    return this.audit.readAuditPage(afterSeq, limit);
  }
  auditHead(): Promise<{ seq: number; hash: string | null } | null> {
    return this.audit.auditHead();
  }
  checkpointAudit(at: number): Promise<AuditEvent | null> {
    return this.audit.checkpointAudit(at);
  }
  verifyAudit(publicKey: string | null): Promise<AuditVerifyReport> {
    return this.audit.verifyAudit(publicKey);
  }

  rotateWgKey(id: string, wgKey: string, at: number, audit: AuditEntry): Promise<NodeRecord> {
    return this.nodes.rotateWgKey(id, wgKey, at, audit);
  }
  renewIdentity(id: string, identityKey: string, expiresAt: number, at: number, audit: AuditEntry): Promise<NodeRecord> {
    return this.nodes.renewIdentity(id, identityKey, expiresAt, at, audit);
  }
  requestKeyRotation(ids: readonly string[], at: number, audit: (node: NodeRecord) => AuditEntry): Promise<NodeRecord[]> {
    return this.nodes.requestKeyRotation(ids, at, audit);
  }
  setNodeExpiry(id: string, expiresAt: number, now: number, audit: AuditEntry): Promise<NodeRecord> {
    return this.nodes.setNodeExpiry(id, expiresAt, now, audit);
  }
  giveIdentityLifetimes(expiresAt: (node: NodeRecord) => number | null, at: number): Promise<number> {
    return this.nodes.giveIdentityLifetimes(expiresAt, at);
  }

  heartbeatController(controller: Omit<ControllerRecord, 'heartbeatAt'>, at: number): Promise<void> {
    return this.presence.heartbeatController(controller, at);
  }
  listControllers(): Promise<ControllerRecord[]> {
    return this.presence.listControllers();
  }
  removeController(id: string): Promise<string[]> {
    return this.presence.removeController(id);
  }
  setNodeStream(nodeId: string, controllerId: string, online: boolean, at: number): Promise<void> {
    return this.presence.setNodeStream(nodeId, controllerId, online, at);
  }
  listNodeStreams(): Promise<NodeStreamRecord[]> {
    return this.presence.listNodeStreams();
  }

  takeRotationLease(nodeId: string, peerIds: readonly string[], now: number, until: number): Promise<RotationLeaseOutcome> {
    return this.rotationLeases.takeRotationLease(nodeId, peerIds, now, until);
  }
  holdRotationLease(nodeId: string, until: number): Promise<void> {
    return this.rotationLeases.holdRotationLease(nodeId, until);
  }
}
