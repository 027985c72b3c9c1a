import { clickhouseErrors } from './errors';

/** ClusterOption turns on ReplicatedMergeTree tables behind Distributed tables, created ON CLUSTER. */
export interface ClusterOption {
  name: string;
  replicated: boolean;
}

export interface ClickHouseConfig {
  url: string;
  username: string;
  password: string;
  database: string;
  tablePrefix: string;
  batchMaxRows: number;
  batchMaxMs: number;
  spoolDir: string;
  spoolMaxBytes: number;
  /** Every ClickHouse request is aborted after this long, so a hung server never stalls delivery. */
  requestTimeoutMs: number;
  /** Raw rows are kept this long where the server supports TTL (19.6+). */
  rawRetentionDays: number;
  /** One-minute rollups are kept this long where the server supports TTL. */
  rollupRetentionDays: number;
  cluster?: ClusterOption;
}

export const IDENTIFIER_PATTERN = '^[a-z_][a-z0-9_]*$';
const IDENTIFIER = new RegExp(IDENTIFIER_PATTERN);

export const CONFIG_DEFAULTS = {
  username: 'default',
  password: '',
  database: 'trellis',
  tablePrefix: 'trellis_',
  // 20,000-row blocks measured 3x the ingest rate of 5,000 on ClickHouse 18.16 (bench/clickhouse-ingest.js).
  batchMaxRows: 20_000,
  batchMaxMs: 1000,
  spoolMaxBytes: 256 * 1024 * 1024,
  requestTimeoutMs: 10_000,
  rawRetentionDays: 30,
  rollupRetentionDays: 400,
} as const;

/** The plugin's JSON schema; the plugin host validates with Ajv and applies these defaults. */
export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url', 'spoolDir'],
  properties: {
    url: { type: 'string', pattern: '^https?://', description: 'ClickHouse HTTP endpoint, e.g. http://127.0.0.1:8123' },
    username: { type: 'string', minLength: 1, default: CONFIG_DEFAULTS.username },
    password: { type: 'string', default: CONFIG_DEFAULTS.password },
    database: { type: 'string', pattern: IDENTIFIER_PATTERN, default: CONFIG_DEFAULTS.database },
    tablePrefix: { type: 'string', pattern: IDENTIFIER_PATTERN, default: CONFIG_DEFAULTS.tablePrefix },
    batchMaxRows: { type: 'integer', minimum: 1, maximum: 1_000_000, default: CONFIG_DEFAULTS.batchMaxRows },
    batchMaxMs: { type: 'integer', minimum: 1, maximum: 600_000, default: CONFIG_DEFAULTS.batchMaxMs },
    spoolDir: { type: 'string', minLength: 1 },
    spoolMaxBytes: { type: 'integer', minimum: 4096, default: CONFIG_DEFAULTS.spoolMaxBytes },
    requestTimeoutMs: { type: 'integer', minimum: 100, maximum: 600_000, default: CONFIG_DEFAULTS.requestTimeoutMs },
    rawRetentionDays: { type: 'integer', minimum: 1, default: CONFIG_DEFAULTS.rawRetentionDays },
    rollupRetentionDays: { type: 'integer', minimum: 1, default: CONFIG_DEFAULTS.rollupRetentionDays },
    cluster: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'replicated'],
      properties: { name: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' }, replicated: { type: 'boolean' } },
    },
  },
} as const;

type Input = Partial<Record<keyof ClickHouseConfig, unknown>>;

const int = (input: Input, key: keyof typeof CONFIG_DEFAULTS & keyof ClickHouseConfig, min: number, max = Number.MAX_SAFE_INTEGER): number => {
  const v = input[key] ?? CONFIG_DEFAULTS[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw clickhouseErrors.configInvalid(key, `expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
};

const str = (input: Input, key: keyof ClickHouseConfig, fallback?: string): string => {
  const v = input[key] ?? fallback;
  if (typeof v !== 'string') throw clickhouseErrors.configInvalid(key, `expected a string, got ${JSON.stringify(v)}`);
  return v;
};

/**
 * resolveConfig checks a config the same way the JSON schema does and fills defaults, so the
 * exporter can be built (and fail clearly) without the plugin host in front of it.
 */
export function resolveConfig(input: Input): ClickHouseConfig {
  if (typeof input !== 'object' || input === null) throw clickhouseErrors.configInvalid('(root)', 'expected an object');
  const known = new Set(Object.keys(configSchema.properties));
  for (const k of Object.keys(input)) {
    if (!known.has(k)) throw clickhouseErrors.configInvalid(k, `unknown option; known options are ${[...known].join(', ')}`);
  }
  const url = str(input, 'url');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw clickhouseErrors.configInvalid('url', `"${url}" is not a URL; use http://host:8123`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw clickhouseErrors.configInvalid('url', `"${url}" must use http:// or https:// (the ClickHouse HTTP interface)`);
  }
  const username = str(input, 'username', CONFIG_DEFAULTS.username);
  if (username.length === 0) throw clickhouseErrors.configInvalid('username', 'must not be empty');
  const database = str(input, 'database', CONFIG_DEFAULTS.database);
  if (!IDENTIFIER.test(database)) throw clickhouseErrors.configInvalid('database', `"${database}" must match ${IDENTIFIER_PATTERN}`);
  const tablePrefix = str(input, 'tablePrefix', CONFIG_DEFAULTS.tablePrefix);
  if (!IDENTIFIER.test(tablePrefix)) {
    throw clickhouseErrors.configInvalid('tablePrefix', `"${tablePrefix}" must match ${IDENTIFIER_PATTERN} (lower-case letters, digits, _)`);
  }
  const spoolDir = str(input, 'spoolDir');
  if (spoolDir.length === 0) throw clickhouseErrors.configInvalid('spoolDir', 'must not be empty');
  let cluster: ClusterOption | undefined;
  if (input.cluster !== undefined) {
    const c = input.cluster as Partial<ClusterOption>;
    if (typeof c !== 'object' || c === null || typeof c.name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(c.name)) {
      throw clickhouseErrors.configInvalid('cluster', 'expected { name: "<cluster from remote_servers>", replicated: true }');
    }
    if (typeof c.replicated !== 'boolean') throw clickhouseErrors.configInvalid('cluster.replicated', 'expected true or false');
    cluster = { name: c.name, replicated: c.replicated };
  }
  return {
    url: url.replace(/\/+$/, ''),
    username,
    password: str(input, 'password', CONFIG_DEFAULTS.password),
    database,
    tablePrefix,
    batchMaxRows: int(input, 'batchMaxRows', 1, 1_000_000),
    batchMaxMs: int(input, 'batchMaxMs', 1, 600_000),
    spoolDir,
    spoolMaxBytes: int(input, 'spoolMaxBytes', 4096),
    requestTimeoutMs: int(input, 'requestTimeoutMs', 100, 600_000),
    rawRetentionDays: int(input, 'rawRetentionDays', 1),
    rollupRetentionDays: int(input, 'rollupRetentionDays', 1),
    ...(cluster ? { cluster } : {}),
  };
}
