import { CANDIDATE_KINDS } from '../netmap/types';

/**
 * JSON schemas of every controller route. Bodies are validated strictly (no coercion, unknown
 * properties refused); query strings and params are coerced from text.
 */
const key32 = { type: 'string', minLength: 44, maxLength: 44 } as const;
const endpoint = { type: 'string', minLength: 3, maxLength: 64, pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[0-9.]+):[0-9]{1,5}$' } as const;
const endpoints = { type: 'array', maxItems: 16, items: endpoint } as const;
/** An endpoint candidate (netmap/types.ts EndpointCandidate, candidate version 2). */
const candidate = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'address', 'learnedAt'],
  properties: {
    kind: { enum: [...CANDIDATE_KINDS] },
    address: endpoint,
    learnedAt: { type: 'integer', minimum: 0 },
    source: { type: 'string', minLength: 1, maxLength: 64 },
  },
} as const;
const candidates = { type: 'array', maxItems: 16, items: candidate } as const;
/** A relay offer: the UDP port the node relays on, or null for none. */
const relay = {
  anyOf: [
    { type: 'null' },
    { type: 'object', additionalProperties: false, required: ['port'], properties: { port: { type: 'integer', minimum: 1, maximum: 65535 } } },
  ],
} as const;
export const NODE_NAME_PATTERN = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';
const tag = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9:_.-]*$' } as const;
const user = { type: 'string', minLength: 1, maxLength: 128 } as const;

export const emptyQuery = { type: 'object', additionalProperties: false, properties: {} } as const;

/** The body of a POST that takes none: nothing (null), or an empty object. */
export const noBody = { anyOf: [{ type: 'null' }, { type: 'object', additionalProperties: false, properties: {} }] } as const;

/** The console's login form (application/x-www-form-urlencoded, parsed to an object). */
export const consoleLoginBody = { type: 'object', additionalProperties: false, properties: { token: { type: 'string', maxLength: 1024 } } } as const;

export const enrollBody = {
  type: 'object',
  additionalProperties: false,
  required: ['authKey', 'name', 'hostname', 'wgKey', 'identityKey', 'endpoints'],
  properties: {
    authKey: { type: 'string', minLength: 1, maxLength: 256 },
    name: { type: 'string', minLength: 1, maxLength: 63, pattern: NODE_NAME_PATTERN },
    hostname: { type: 'string', minLength: 1, maxLength: 253 },
    wgKey: key32,
    identityKey: key32,
    endpoints,
    relay,
  },
} as const;

export const endpointsBody = {
  type: 'object',
  additionalProperties: false,
  required: ['endpoints'],
  properties: { endpoints, candidates, relay },
} as const;

export const postureSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['compliant', 'reasons'],
  properties: {
    compliant: { type: 'boolean' },
    reasons: { type: 'array', maxItems: 64, items: { type: 'string', maxLength: 512 } },
    policyVersion: { type: 'string', maxLength: 128 },
  },
} as const;

/**
 * factsSchema checks the documented facts shape (policies/posture/README.md) loosely: known fields
 * must have the right JSON types, unknown fields (other plugins' facts) pass.
 */
const str = { type: 'string', maxLength: 256 } as const;
const obj = (properties: Record<string, unknown>) => ({ type: 'object', properties }) as const;
export const factsSchema = {
  type: 'object',
  maxProperties: 64,
  properties: {
    os: obj({ id: str, versionId: { anyOf: [{ type: 'null' }, str, { type: 'number' }] }, name: str, prettyName: str }),
    kernel: obj({ release: str, version: str }),
    agent: obj({ version: str }),
    disk: obj({ rootEncrypted: { type: 'boolean' }, devices: { type: 'array', maxItems: 256, items: { type: 'object' } } }),
    firewall: obj({ enabled: { type: 'boolean' }, ruleCount: { type: 'integer', minimum: 0 }, inputPolicy: str }),
    processes: { type: 'array', maxItems: 8192, items: str },
    wgKey: obj({ createdAt: { type: 'number', minimum: 0 } }),
    collectedAt: { type: 'number', minimum: 0 },
  },
} as const;

export const factsBody = {
  type: 'object',
  additionalProperties: false,
  required: ['facts'],
  properties: {
    facts: factsSchema,
    posture: { anyOf: [{ type: 'null' }, postureSchema] },
  },
} as const;

export const mapStreamQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    since: { type: 'integer', minimum: 0 },
    epoch: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' },
  },
} as const;

export const createKeyBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    tags: { type: 'array', maxItems: 32, uniqueItems: true, items: tag },
    user,
    reusable: { type: 'boolean' },
    ttlSeconds: { type: 'integer', minimum: 1, maximum: 10 * 365 * 24 * 3600 },
    nodeTtlSeconds: { anyOf: [{ type: 'null' }, { type: 'integer', minimum: 60, maximum: 10 * 365 * 24 * 3600 }] },
  },
} as const;

export const revokeParams = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 63 } },
} as const;

/** The revoke body is optional: null (no body) or { reason }. */
export const revokeBody = {
  anyOf: [
    { type: 'null' },
    { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', maxLength: 256 } } },
  ],
} as const;

const unixMs = { type: 'integer', minimum: 0, maximum: 8_640_000_000_000_000 } as const;
export const auditQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 1000 },
    since: unixMs,
    until: unixMs,
    node: { type: 'string', minLength: 1, maxLength: 128 },
    /** Comma-separated action families, e.g. auth,node.revoked */
    type: { type: 'string', minLength: 1, maxLength: 512, pattern: '^[a-z0-9_.-]+(,[a-z0-9_.-]+)*$' },
    afterSeq: { type: 'integer', minimum: 0 },
  },
} as const;

export const auditVerifyQuery = emptyQuery;

export const keyIdParams = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' } },
} as const;

const eventDetailValue = { anyOf: [{ type: 'string', maxLength: 256 }, { type: 'number' }, { type: 'boolean' }, { type: 'null' }] } as const;
export const connectionEventsBody = {
  type: 'object',
  additionalProperties: false,
  required: ['events'],
  properties: {
    events: {
      type: 'array',
      minItems: 1,
      maxItems: 64,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['at', 'kind'],
        properties: {
          at: unixMs,
          kind: { enum: ['tunnel.up', 'tunnel.down', 'path.switched', 'relay.switched', 'quarantine.entered', 'quarantine.left', 'exit.switched'] },
          peer: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' },
          details: {
            type: 'object',
            maxProperties: 16,
            propertyNames: { type: 'string', maxLength: 64, pattern: '^[A-Za-z][A-Za-z0-9_]*$' },
            additionalProperties: eventDetailValue,
          },
        },
      },
    },
  },
} as const;

export const USER_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$';
export const GROUP_NAME_PATTERN = '^[a-z0-9][a-z0-9_-]{0,62}$';
const userName = { type: 'string', minLength: 1, maxLength: 128, pattern: USER_NAME_PATTERN } as const;
const groupName = { type: 'string', minLength: 1, maxLength: 63, pattern: GROUP_NAME_PATTERN } as const;

export const userBody = { type: 'object', additionalProperties: false, required: ['name'], properties: { name: userName } } as const;
export const userParams = { type: 'object', additionalProperties: false, required: ['name'], properties: { name: userName } } as const;
export const groupBody = { type: 'object', additionalProperties: false, required: ['name'], properties: { name: groupName } } as const;
export const groupParams = { type: 'object', additionalProperties: false, required: ['name'], properties: { name: groupName } } as const;
export const memberBody = { type: 'object', additionalProperties: false, required: ['user'], properties: { user: userName } } as const;
export const memberParams = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'user'],
  properties: { name: groupName, user: userName },
} as const;

/** A pushed policy: relative paths of .rego and .json files to their text. */
export const policyPushBody = {
  type: 'object',
  additionalProperties: false,
  required: ['files'],
  properties: {
    files: {
      type: 'object',
      minProperties: 1,
      maxProperties: 512,
      propertyNames: { type: 'string', maxLength: 256, pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*\\.(rego|json)$' },
      additionalProperties: { type: 'string' },
    },
    source: { type: 'string', minLength: 1, maxLength: 1024 },
  },
} as const;

export const explainBody = {
  type: 'object',
  additionalProperties: false,
  required: ['from', 'to'],
  properties: {
    from: { type: 'string', minLength: 1, maxLength: 128 },
    to: { type: 'string', minLength: 1, maxLength: 128 },
    proto: { enum: ['tcp', 'udp', 'icmp'] },
    port: { anyOf: [{ type: 'null' }, { type: 'integer', minimum: 0, maximum: 65535 }] },
  },
} as const;

export const wgKeyRotateBody = {
  type: 'object',
  additionalProperties: false,
  required: ['wgKey', 'reason'],
  properties: { wgKey: key32, reason: { enum: ['scheduled', 'requested'] } },
} as const;

export const identityRenewBody = {
  type: 'object',
  additionalProperties: false,
  required: ['identityKey', 'proof'],
  properties: { identityKey: key32, proof: { type: 'string', minLength: 86, maxLength: 88 } },
} as const;

/** `trellis keys rotate [--node <name>]`: no body, or { node }. */
export const rotateKeysBody = {
  anyOf: [
    { type: 'null' },
    { type: 'object', additionalProperties: false, properties: { node: { type: 'string', minLength: 1, maxLength: 63 } } },
  ],
} as const;

/** `trellis nodes expire <name> [--at|--in]`: no body (now), or { at } in Unix ms. */
export const expireBody = {
  anyOf: [
    { type: 'null' },
    { type: 'object', additionalProperties: false, properties: { at: { type: 'integer', minimum: 0 } } },
  ],
} as const;

const routePrefix = { type: 'string', minLength: 1, maxLength: 64 } as const;

/** POST ROUTES.nodeRoutes: the shape only; prefixes, checks and overlaps are checked by route-rules.ts. */
const exitNodeName = { type: 'string', minLength: 1, maxLength: 253 } as const;
export const exitUseBody = {
  type: 'object',
  additionalProperties: false,
  required: ['preferred', 'fallback', 'inUse', 'problem', 'switches'],
  properties: {
    preferred: exitNodeName,
    fallback: { anyOf: [{ type: 'null' }, exitNodeName] },
    inUse: { anyOf: [{ type: 'null' }, exitNodeName] },
    problem: { anyOf: [{ type: 'null' }, { type: 'string', maxLength: 512 }] },
    switches: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
  },
} as const;

export const routesBody = {
  type: 'object',
  additionalProperties: false,
  required: ['routes', 'priority', 'exit', 'health'],
  properties: {
    routes: {
      type: 'array',
      maxItems: 64,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['prefix', 'check'],
        properties: { prefix: routePrefix, check: { anyOf: [{ type: 'null' }, { type: 'string', minLength: 1, maxLength: 64 }] } },
      },
    },
    priority: { type: 'integer' },
    exit: { type: 'boolean' },
    health: { type: 'object', maxProperties: 64, additionalProperties: { type: 'boolean' } },
  },
} as const;

/** POST ROUTES.adminRouteDecide. */
export const routeDecisionBody = {
  type: 'object',
  additionalProperties: false,
  required: ['node', 'prefix', 'decision'],
  properties: {
    node: { type: 'string', minLength: 1, maxLength: 63 },
    prefix: routePrefix,
    decision: { type: 'string', enum: ['approve', 'reject'] },
  },
} as const;
