/**
 * JSON schemas of every controller route. Bodies are validated strictly (no coercion, unknown
 * properties refused); query strings and params are coerced from text.
 */
const key32 = { type: 'string', minLength: 44, maxLength: 44 } as const;
const endpoint = { type: 'string', minLength: 3, maxLength: 64, pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[0-9.]+):[0-9]{1,5}$' } as const;
const endpoints = { type: 'array', maxItems: 16, items: endpoint } as const;
export const NODE_NAME_PATTERN = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';
const tag = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9:_.-]*$' } as const;
const user = { type: 'string', minLength: 1, maxLength: 128 } as const;

export const emptyQuery = { type: 'object', additionalProperties: false, properties: {} } as const;

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
  },
} as const;

export const endpointsBody = {
  type: 'object',
  additionalProperties: false,
  required: ['endpoints'],
  properties: { endpoints },
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

export const factsBody = {
  type: 'object',
  additionalProperties: false,
  required: ['facts'],
  properties: {
    facts: { type: 'object' },
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

export const auditQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: { type: 'integer', minimum: 1, maximum: 1000 } },
} as const;
