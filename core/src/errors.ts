/**
 * The catalogue of core error codes. Each code has one factory whose message names what was wrong
 * and what to do about it. controller/http-errors.ts maps codes to HTTP statuses in one place.
 * It sits at the bottom of core with TrellisError: every folder may import it, and it imports
 * nothing else of Trellis.
 */
import { TrellisError } from './trellis-error';

export { TrellisError };

export const ErrorCode = {
  BAD_REQUEST: 'TRELLIS_ERR_BAD_REQUEST',
  BODY_TOO_LARGE: 'TRELLIS_ERR_BODY_TOO_LARGE',
  NOT_FOUND: 'TRELLIS_ERR_NOT_FOUND',
  ENROLL_KEY_UNKNOWN: 'TRELLIS_ERR_ENROLL_KEY_UNKNOWN',
  ENROLL_KEY_EXPIRED: 'TRELLIS_ERR_ENROLL_KEY_EXPIRED',
  ENROLL_KEY_USED: 'TRELLIS_ERR_ENROLL_KEY_USED',
  ENROLL_KEY_REVOKED: 'TRELLIS_ERR_ENROLL_KEY_REVOKED',
  NAME_TAKEN: 'TRELLIS_ERR_NAME_TAKEN',
  KEY_IN_USE: 'TRELLIS_ERR_KEY_IN_USE',
  ADDRESS_POOL_EXHAUSTED: 'TRELLIS_ERR_ADDRESS_POOL_EXHAUSTED',
  AUTH_MISSING: 'TRELLIS_ERR_AUTH_MISSING',
  AUTH_BAD_SIGNATURE: 'TRELLIS_ERR_AUTH_BAD_SIGNATURE',
  AUTH_STALE: 'TRELLIS_ERR_AUTH_STALE',
  AUTH_REPLAY: 'TRELLIS_ERR_AUTH_REPLAY',
  AUTH_UNKNOWN_NODE: 'TRELLIS_ERR_AUTH_UNKNOWN_NODE',
  NODE_REVOKED: 'TRELLIS_ERR_NODE_REVOKED',
  NODE_EXPIRED: 'TRELLIS_ERR_NODE_EXPIRED',
  IDENTITY_EXPIRED: 'TRELLIS_ERR_IDENTITY_EXPIRED',
  NODE_NOT_LIVE: 'TRELLIS_ERR_NODE_NOT_LIVE',
  KEY_REVOKED: 'TRELLIS_ERR_KEY_REVOKED',
  KEY_RETIRED: 'TRELLIS_ERR_KEY_RETIRED',
  ROTATION_BUSY: 'TRELLIS_ERR_ROTATION_BUSY',
  ADMIN_UNAUTHORIZED: 'TRELLIS_ERR_ADMIN_UNAUTHORIZED',
  CONFIG_INVALID: 'TRELLIS_ERR_CONFIG_INVALID',
  CONTROLLER_UNREACHABLE: 'TRELLIS_ERR_CONTROLLER_UNREACHABLE',
  AGENT_UNREACHABLE: 'TRELLIS_ERR_AGENT_UNREACHABLE',
  DEVICE: 'TRELLIS_ERR_DEVICE',
  CONTROL_SOCKET: 'TRELLIS_ERR_CONTROL_SOCKET',
  RELAY_CONFIG: 'TRELLIS_ERR_RELAY_CONFIG',
  COMMAND_FAILED: 'TRELLIS_ERR_COMMAND_FAILED',
  USAGE: 'TRELLIS_ERR_USAGE',
  LAB: 'TRELLIS_ERR_LAB',
  STORE: 'TRELLIS_ERR_STORE',
  UNSUPPORTED_MEDIA_TYPE: 'TRELLIS_ERR_UNSUPPORTED_MEDIA_TYPE',
  INTERNAL: 'TRELLIS_ERR_INTERNAL',
  PROBE_BIND: 'TRELLIS_ERR_PROBE_BIND',
  PACKET_FILTER_INVALID: 'TRELLIS_ERR_PACKET_FILTER_INVALID',
  ALREADY_EXISTS: 'TRELLIS_ERR_ALREADY_EXISTS',
  POLICY_ENGINE_MISSING: 'TRELLIS_ERR_POLICY_ENGINE_MISSING',
  POLICY_NO_PREVIOUS: 'TRELLIS_ERR_POLICY_NO_PREVIOUS',
  /** Reported by a policy engine plugin, which uses the same strings. */
  POLICY_COMPILE_FAILED: 'TRELLIS_ERR_POLICY_COMPILE_FAILED',
  POLICY_TESTS_FAILED: 'TRELLIS_ERR_POLICY_TESTS_FAILED',
  POLICY_BUNDLE_INVALID: 'TRELLIS_ERR_POLICY_BUNDLE_INVALID',
  POLICY_DATA_INVALID: 'TRELLIS_ERR_POLICY_DATA_INVALID',
  POLICY_OPA_MISSING: 'TRELLIS_ERR_POLICY_OPA_MISSING',
  POLICY_NO_REGO: 'TRELLIS_ERR_POLICY_NO_REGO',
  GRAFANA_UNREACHABLE: 'TRELLIS_ERR_GRAFANA_UNREACHABLE',
  GRAFANA_UNAUTHORIZED: 'TRELLIS_ERR_GRAFANA_UNAUTHORIZED',
  DASHBOARDS_MISSING: 'TRELLIS_ERR_DASHBOARDS_MISSING',
  RATE_LIMITED: 'TRELLIS_ERR_RATE_LIMITED',
  REQUEST_TIMEOUT: 'TRELLIS_ERR_REQUEST_TIMEOUT',
  HEADERS_TOO_LARGE: 'TRELLIS_ERR_HEADERS_TOO_LARGE',
  ENROLL_PROOF_MISSING: 'TRELLIS_ERR_ENROLL_PROOF_MISSING',
  ENROLL_PROOF_INVALID: 'TRELLIS_ERR_ENROLL_PROOF_INVALID',
  AUTH_KEY_TTL_TOO_LONG: 'TRELLIS_ERR_AUTH_KEY_TTL_TOO_LONG',
  ADMIN_TOKEN_WEAK: 'TRELLIS_ERR_ADMIN_TOKEN_WEAK',
  TLS_SETUP: 'TRELLIS_ERR_TLS_SETUP',
  TLS_UNTRUSTED: 'TRELLIS_ERR_TLS_UNTRUSTED',
  INSECURE_TRANSPORT: 'TRELLIS_ERR_INSECURE_TRANSPORT',
  HISTORY_UNAVAILABLE: 'TRELLIS_ERR_HISTORY_UNAVAILABLE',
  STUN_NO_ANSWER: 'TRELLIS_ERR_STUN_NO_ANSWER',
  STUN_BAD_RESPONSE: 'TRELLIS_ERR_STUN_BAD_RESPONSE',
  ROUTE_INVALID: 'TRELLIS_ERR_ROUTE_INVALID',
  ROUTE_CONFLICT: 'TRELLIS_ERR_ROUTE_CONFLICT',
  TOPOLOGY_INVALID: 'TRELLIS_ERR_TOPOLOGY_INVALID',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const e = (code: ErrorCode, message: string, details?: Record<string, unknown>) => new TrellisError(code, message, details);

export const errors = {
  badRequest: (what: string) => e(ErrorCode.BAD_REQUEST, `bad request: ${what}`),
  bodyTooLarge: (limit: number) =>
    e(ErrorCode.BODY_TOO_LARGE, `request body is larger than the ${limit}-byte limit for this route; send less`),
  notFound: (what: string) => e(ErrorCode.NOT_FOUND, `${what} was not found`),
  enrollKeyUnknown: () =>
    e(ErrorCode.ENROLL_KEY_UNKNOWN, 'auth key is not known to this controller; create one with `trellis keys create`'),
  enrollKeyExpired: (at: number) =>
    e(ErrorCode.ENROLL_KEY_EXPIRED, `auth key expired at ${new Date(at).toISOString()}; create a new one with \`trellis keys create\``),
  enrollKeyUsed: () =>
    e(ErrorCode.ENROLL_KEY_USED, 'auth key was one-time and has already been used; create a new one, or use --reusable'),
  enrollKeyRevoked: () => e(ErrorCode.ENROLL_KEY_REVOKED, 'auth key was revoked by an admin'),
  nameTaken: (name: string) =>
    e(ErrorCode.NAME_TAKEN, `node name "${name}" is already used by another node; choose another --name`),
  keyInUse: () => e(ErrorCode.KEY_IN_USE, 'this WireGuard or identity key already belongs to another node'),
  poolExhausted: (cidr: string) =>
    e(ErrorCode.ADDRESS_POOL_EXHAUSTED, `no free overlay address left in ${cidr}; widen the pool or remove nodes`),
  authMissing: () =>
    e(ErrorCode.AUTH_MISSING, 'request is not signed: node requests need x-trellis-node, -timestamp, -nonce and -signature headers'),
  authBadSignature: () => e(ErrorCode.AUTH_BAD_SIGNATURE, 'request signature does not verify against the node identity key'),
  authStale: (skewMs: number) =>
    e(ErrorCode.AUTH_STALE, `request timestamp is ${Math.round(skewMs / 1000)}s away from the controller clock; check the node's clock`),
  authReplay: () => e(ErrorCode.AUTH_REPLAY, 'request nonce was already used; replayed requests are refused'),
  authUnknownNode: () => e(ErrorCode.AUTH_UNKNOWN_NODE, 'request is signed by a node this controller does not know; enroll again'),
  nodeRevoked: (name: string) => e(ErrorCode.NODE_REVOKED, `node "${name}" was revoked; it must be enrolled again with a new auth key`),
  nodeExpired: (name: string) => e(ErrorCode.NODE_EXPIRED, `node "${name}" key expired; re-enroll it with a new auth key`),
  identityExpired: (name: string, at: number) =>
    e(
      ErrorCode.IDENTITY_EXPIRED,
      `node "${name}" identity credential expired at ${new Date(at).toISOString()} (the node was not there to renew it); re-enroll it with a new auth key`,
    ),
  nodeNotLive: (name: string, state: 'revoked' | 'expired') =>
    e(ErrorCode.NODE_NOT_LIVE, `node "${name}" is ${state}, so its keys and expiry can no longer change; enroll it again with a new auth key`),
  keyRevoked: (kind: 'WireGuard' | 'identity', owner: string) =>
    e(
      ErrorCode.KEY_REVOKED,
      `this ${kind} key belonged to node "${owner}", which was revoked; a revoked node's keys never enroll again: start the agent with an empty state dir (new keys) and a new auth key`,
    ),
  rotationBusy: (name: string, retryAfterMs: number) =>
    e(
      ErrorCode.ROTATION_BUSY,
      `a peer of node "${name}" is rotating its WireGuard key; rotate again in ${Math.ceil(retryAfterMs / 100) / 10} s (two peers switching at once would drop the packets waiting between them)`,
    ),
  keyRetired: (kind: 'WireGuard' | 'identity', owner: string) =>
    e(ErrorCode.KEY_RETIRED, `this ${kind} key was replaced by a rotation of node "${owner}" and is never used again; generate a new key`),
  adminUnauthorized: () =>
    e(ErrorCode.ADMIN_UNAUTHORIZED, 'admin token missing or wrong; pass --admin-token-file or set TRELLIS_ADMIN_TOKEN'),
  configInvalid: (where: string, what: string) => e(ErrorCode.CONFIG_INVALID, `invalid config ${where}: ${what}`),
  controllerUnreachable: (url: string, why: string) =>
    e(ErrorCode.CONTROLLER_UNREACHABLE, `controller at ${url} is unreachable (${why})`),
  agentUnreachable: (socket: string, why: string) =>
    e(ErrorCode.AGENT_UNREACHABLE, `agent socket ${socket} is unreachable (${why}); is \`trellis up\` running?`),
  device: (iface: string, what: string) => e(ErrorCode.DEVICE, `WireGuard device ${iface}: ${what}`),
  controlSocket: (socket: string, what: string) => e(ErrorCode.CONTROL_SOCKET, `trellis-wg control socket ${socket}: ${what}`, { socket }),
  relayConfig: (socket: string, what: string) =>
    e(ErrorCode.RELAY_CONFIG, `relay at ${socket} refused the configuration: ${what}`, { socket }),
  commandFailed: (cmd: string, stderr: string) => e(ErrorCode.COMMAND_FAILED, `\`${cmd}\` failed: ${stderr.trim()}`),
  usage: (what: string) => e(ErrorCode.USAGE, what),
  lab: (what: string) => e(ErrorCode.LAB, `lab: ${what}`),
  stunNoAnswer: (server: string, ms: number, attempts: number) =>
    e(ErrorCode.STUN_NO_ANSWER, `STUN server ${server} did not answer a binding request within ${ms} ms (${attempts} attempts); check that it is reachable over UDP and the port is right`, { server }),
  stunBadResponse: (server: string, what: string) =>
    e(ErrorCode.STUN_BAD_RESPONSE, `STUN server ${server} answered with ${what}; it is not a usable RFC 8489 binding response (try another server)`, { server }),
  store: (what: string) => e(ErrorCode.STORE, `store: ${what}`),
  unsupportedMediaType: (got: string) =>
    e(ErrorCode.UNSUPPORTED_MEDIA_TYPE, `content-type "${got}" is not accepted; send the body as application/json`),
  internal: () => e(ErrorCode.INTERNAL, 'internal controller error; see the controller log'),
  probeBind: (address: string, port: number, why: string) =>
    e(ErrorCode.PROBE_BIND, `cannot bind the probe socket on ${address}:${port} (${why}); free the port or set another probe port`),
  packetFilterInvalid: (what: string) =>
    e(ErrorCode.PACKET_FILTER_INVALID, `packet filter from the controller is invalid: ${what}; the previous filter stays in force (check the access policy)`),
  opaMissing: (path: string, why: string) =>
    e(ErrorCode.POLICY_OPA_MISSING, `the opa CLI at ${path} cannot run (${why}); build it with \`bash scripts/install-opa.sh\` in the Trellis checkout, or set TRELLIS_OPA to an opa binary`, { path }),
  policyNoRego: (dir: string) =>
    e(ErrorCode.POLICY_NO_REGO, `${dir} holds no .rego files, so opa has nothing to check (it reports nothing and exits 0); point at a folder of policies, e.g. policies/`, { dir }),
  alreadyExists: (what: string) => e(ErrorCode.ALREADY_EXISTS, `${what} already exists; choose another name or remove it first`),
  policyEngineMissing: () =>
    e(
      ErrorCode.POLICY_ENGINE_MISSING,
      'no policy engine is loaded on the controller; add the posture-opa plugin to controller.plugins in the --config file',
    ),
  policyNoPrevious: (active: string | null) =>
    e(
      ErrorCode.POLICY_NO_PREVIOUS,
      active === null ? 'no policy is active, so there is nothing to roll back' : `policy ${active.slice(0, 12)} is the first version; there is no previous one to roll back to`,
    ),
  grafanaUnreachable: (url: string, why: string) =>
    e(ErrorCode.GRAFANA_UNREACHABLE, `Grafana at ${url} is unreachable (${why}); check --grafana (e.g. http://127.0.0.1:3000) and that Grafana is running`),
  grafanaUnauthorized: (url: string, status: number) =>
    e(ErrorCode.GRAFANA_UNAUTHORIZED, `Grafana at ${url} rejected the token (HTTP ${status}); pass a service-account token with Editor (dashboards) and alerting write rights in --token`),
  enrollProofMissing: () =>
    e(
      ErrorCode.ENROLL_PROOF_MISSING,
      'enrolment must prove possession of the identity key: sign the request with it (x-trellis-timestamp, -nonce and -signature headers); upgrade the agent',
    ),
  enrollProofInvalid: () =>
    e(ErrorCode.ENROLL_PROOF_INVALID, 'enrolment signature does not verify against body.identityKey: the request was not signed with that identity\'s private key'),
  requestTimeout: () => e(ErrorCode.REQUEST_TIMEOUT, 'the request did not arrive in time; send it whole, without pauses'),
  headersTooLarge: () => e(ErrorCode.HEADERS_TOO_LARGE, 'the request headers (URL included) are larger than 16 KiB; send a shorter URL or fewer headers'),
  rateLimited: (retryAfterS: number) =>
    e(ErrorCode.RATE_LIMITED, `too many requests or failed authentications from this address; retry in ${retryAfterS} s`, { retryAfterS }),
  authKeyTtlTooLong: (askedS: number, maxS: number) =>
    e(
      ErrorCode.AUTH_KEY_TTL_TOO_LONG,
      `an auth key may live at most ${maxS} s (controller.settings.maxAuthKeyTtl), not ${askedS} s; ask for a shorter --ttl, or raise the setting`,
    ),
  adminTokenWeak: (source: string, bits: number) =>
    e(
      ErrorCode.ADMIN_TOKEN_WEAK,
      `the admin token from ${source} has about ${Math.floor(bits)} bits of entropy, fewer than the 256 (32 bytes) required; use a random token of at least 43 base64 characters (\`openssl rand -base64 32\`), or delete the file to have one generated`,
    ),
  tlsSetup: (what: string) => e(ErrorCode.TLS_SETUP, `TLS: ${what}`),
  plainHttpRefused: (listen: string, dataDir: string) =>
    e(
      ErrorCode.INSECURE_TRANSPORT,
      `refusing to serve plain http on ${listen}, which is not a loopback address: agents would send auth keys in the clear; run \`trellis controller init --data-dir ${dataDir} --san <name or address>\` to make a certificate, or pass --insecure to accept the risk`,
    ),
  tlsUntrusted: (url: string, why: string) =>
    e(ErrorCode.TLS_UNTRUSTED, `controller at ${url} is not trusted (${why}); pass the CA the controller was set up with (--ca <file>) or its fingerprint (--ca-fingerprint sha256:…, printed by \`trellis controller init\`)`),
  insecureTransport: (url: string) =>
    e(
      ErrorCode.INSECURE_TRANSPORT,
      `refusing plain http to ${url}: anyone on the path could read auth keys and forge network maps; use https (run \`trellis controller init\` on the controller), or pass --insecure to accept the risk`,
    ),
  dashboardsMissing: (dir: string, what: string) =>
    e(ErrorCode.DASHBOARDS_MISSING, `${dir}: ${what}; generate it with \`npx nx run plugin-dashboards-grafana:generate\` or pass --dir`),
  topologyInvalid: (what: string) => e(ErrorCode.TOPOLOGY_INVALID, `topology refused: ${what}; the topology in force stays`),
  routeInvalid: (what: string) => e(ErrorCode.ROUTE_INVALID, `route refused: ${what}; nothing was stored`),
  routeConflict: (prefix: string, other: string, gateway: string) =>
    e(
      ErrorCode.ROUTE_CONFLICT,
      `route ${prefix} overlaps the approved route ${other} of ${gateway}; only identical prefixes may share gateways (HA): reject or withdraw one of them first`,
      { prefix, other, gateway },
    ),
  historyUnavailable: (why: string) =>
    e(ErrorCode.HISTORY_UNAVAILABLE, `the path history did not answer (${why}); the live figures stay, see the controller log`),
};
