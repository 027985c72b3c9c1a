/**
 * The controller's HTTP routes and their body limits. Node routes are signed with the node identity
 * key (auth/signing.ts); admin routes take `Authorization: Bearer <admin token>`.
 */
export const ROUTES = {
  health: '/healthz',
  enroll: '/v1/enroll',
  /** GET, signed; SSE stream of `event: map` (MapResponse JSON), `event: key` (NodeKeyState JSON, first and on change) and `event: ping`. Query: since, epoch. */
  mapStream: '/v1/map/stream',
  /** POST, signed: reported endpoints; doubles as a heartbeat. */
  endpoints: '/v1/node/endpoints',
  /** POST, signed: device facts and the local posture decision. */
  facts: '/v1/node/facts',
  adminKeys: '/v1/admin/keys',
  adminNodes: '/v1/admin/nodes',
  /** POST /v1/admin/nodes/:name/revoke */
  adminRevoke: '/v1/admin/nodes/:name/revoke',
  /** GET, admin: audit entries; query limit, since, until (unix ms), node, type (comma list), afterSeq. */
  adminAudit: '/v1/admin/audit',
  /** GET, admin: walk the audit hash chain and report the first bad entry (AuditVerifyReport). */
  adminAuditVerify: '/v1/admin/audit/verify',
  /** GET, admin: SSE of new audit entries (`event: audit`), with the filters of adminAudit. */
  adminAuditStream: '/v1/admin/audit/stream',
  /** POST /v1/admin/keys/:id/revoke: no further enrolment with this auth key. */
  adminKeyRevoke: '/v1/admin/keys/:id/revoke',
  /** POST, signed: connection events the agent saw (ConnectionEventsRequest), written to the audit log. */
  nodeEvents: '/v1/node/events',
  /** GET: the OpenAPI 3 document of every route, generated from their schemas. */
  openapi: '/v1/openapi.json',
  /** POST, signed: a telemetry batch (api/telemetry.ts TelemetryBatch without node/nodeId). */
  telemetry: '/v1/node/telemetry',
  /** GET, admin: live alerts, served once a plugin provides them (?limit=N recently resolved, default 100). */
  adminAlerts: '/v1/admin/alerts',
  /** GET, admin: the latest per-path figures (LiveTelemetry). */
  adminTelemetryLive: '/v1/admin/telemetry/live',
  /** POST /v1/admin/nodes/:name/approve: let a node waiting for approval into the mesh. */
  adminApprove: '/v1/admin/nodes/:name/approve',
  /** GET list, POST { name } add. */
  adminUsers: '/v1/admin/users',
  /** DELETE: remove the user, revoking its nodes and keys. */
  adminUser: '/v1/admin/users/:name',
  /** GET list, POST { name } add. */
  adminGroups: '/v1/admin/groups',
  /** DELETE: remove the group. */
  adminGroup: '/v1/admin/groups/:name',
  /** POST { user }: add a member. */
  adminGroupMembers: '/v1/admin/groups/:name/members',
  /** DELETE: remove a member. */
  adminGroupMember: '/v1/admin/groups/:name/members/:user',
  /** GET: active policy version and history; POST { files, source }: compile, test and activate. */
  adminPolicy: '/v1/admin/policy',
  /** POST: go back to the version active before the current one. */
  adminPolicyRollback: '/v1/admin/policy/rollback',
  /** POST { from, to, proto, port }: the active policy's decision and its reasons. */
  adminPolicyExplain: '/v1/admin/policy/explain',
  /** GET, signed: the active policy bundle (application/gzip), version in x-trellis-policy-version. */
  policyBundle: '/v1/policy/bundle',
  /** GET, signed: the node's NodeKeyState. */
  nodeKeys: '/v1/node/keys',
  /** POST, signed: WgKeyRotateRequest, register a rotated WireGuard public key. */
  nodeWgKey: '/v1/node/keys/wireguard',
  /** POST, signed, no body: a short lease to rotate now (409 ROTATION_BUSY while a peer rotates). */
  nodeWgKeyLease: '/v1/node/keys/wireguard/lease',
  /** POST, signed: IdentityRenewRequest, renew the identity credential with a new key. */
  nodeIdentity: '/v1/node/keys/identity',
  /** POST, admin, { node? }: ask one node (or every live node) to rotate its WireGuard key now. */
  adminRotateKeys: '/v1/admin/node-keys/rotate',
  /** POST /v1/admin/nodes/:name/expire, { at? }: the node's key expires at `at` (default now). */
  adminExpire: '/v1/admin/nodes/:name/expire',
  /** POST, signed: RoutesRequest, the routes the node advertises (`trellis up --advertise-routes`) and their health. */
  nodeRoutes: '/v1/node/routes',
  /** POST, signed: ExitUseRequest, the exit node the node uses (`trellis up --exit-node`). */
  nodeExit: '/v1/node/exit',
  /** GET, admin: every advertised route with its decision, health and whether it is primary (RouteView[]). */
  adminRoutes: '/v1/admin/routes',
  /** POST, admin, RouteDecisionRequest: approve or reject one node's route. */
  adminRouteDecide: '/v1/admin/routes/decide',
  /** GET, admin (?node=name): the topology in force and every node's role (TopologyView); PUT, admin, TopologySetRequest: set the controller's topology. */
  adminTopology: '/v1/admin/topology',
} as const;

/** Response header carrying the policy version of GET /v1/policy/bundle. */
export const POLICY_VERSION_HEADER = 'x-trellis-policy-version';

/**
 * Request header of GET ROUTES.mapStream: the delta forms the agent applies beyond the first
 * protocol, comma-separated. Controllers that do not know a feature ignore it (so do agents that
 * never send the header: they get whole packet filters).
 */
export const MAP_FEATURES_HEADER = 'x-trellis-map-features';

/** MAP_FEATURES_HEADER value: the agent applies DeltaMapResponse.packetFilterPatch. */
export const MAP_FEATURE_FILTER_PATCH = 'filter-patch';

/** Body size limits, bytes. */
export const BODY_LIMITS = {
  enroll: 16 * 1024,
  endpoints: 4 * 1024,
  /** 64 routes with their checks and health. */
  routes: 16 * 1024,
  /** An exit node report: two names, a reason and a count. */
  exit: 2 * 1024,
  /** Key rotation and identity renewal requests. */
  keys: 1024,
  facts: 64 * 1024,
  admin: 16 * 1024,
  telemetry: 1024 * 1024,
  /** Connection events reported by an agent. */
  nodeEvents: 32 * 1024,
  /** A pushed policy dir (rego + data.json). */
  policy: 2 * 1024 * 1024,
} as const;
