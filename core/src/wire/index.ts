/**
 * wire: the contract between Trellis processes — the controller's routes with their request and
 * response bodies, the audit event shape, the error body, and the agent's local API. It holds only
 * types and constants, so the controller, the agent, the store, the CLI and the lab all import it
 * without importing one another.
 */
export { AGENT_API } from './agent-api';
export type { AgentKeyStatus, AgentRelayStatus, AgentRoutesStatus, AgentStatus, AgentTopologyStatus, PeerStatus } from './agent-api';
export type { AgentNatStatus, AgentPathsStatus, DiscoDropReason, PathCandidateStatus, PathSwitchEvent, PeerPathStatus, RelayPathStatus } from './path-status';
export type {
  AuthKeyView,
  CreateKeyRequest,
  CreateKeyResponse,
  ExpireNodeRequest,
  ExplainRequest,
  ExplainResponse,
  GroupView,
  NodeView,
  PolicyActivationView,
  PolicyChangeResponse,
  PolicyPushRequest,
  PolicyStatusView,
  PolicyVersionView,
  RemoveUserResponse,
  RotateKeysRequest,
  RouteDecisionRequest,
  RouteView,
  RotateKeysResponse,
  UserView,
} from './admin-messages';
export { AUDIT_CHAIN_START_ACTION, AUDIT_CHECKPOINT_ACTION } from './audit-event';
export type { AuditEvent, AuditQuery, AuditTamperKind, AuditVerifyReport } from './audit-event';
export type { ErrorBody } from './error-body';
export { CONNECTION_EVENT_KINDS } from './node-messages';
export type {
  ConnectionEvent,
  ConnectionEventKind,
  ConnectionEventsRequest,
  EndpointsRequest,
  EnrollRequest,
  EnrollResponse,
  FactsRequest,
  ExitUseRequest,
  IdentityRenewRequest,
  NodeKeyState,
  RoutesRequest,
  RoutesResponse,
  TelemetryRequest,
  TelemetryResponse,
  WgKeyLeaseResponse,
  WgKeyRotateRequest,
  WgKeyRotationReason,
} from './node-messages';
export type { NodeTopologyView, PairPathView, TopologySetRequest, TopologyView } from './topology-view';
export { BODY_LIMITS, MAP_FEATURE_FILTER_PATCH, MAP_FEATURES_HEADER, POLICY_VERSION_HEADER, ROUTES } from './routes';
