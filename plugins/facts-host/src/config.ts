/**
 * The facts-host config: its JSON schema (the plugin host validates against it and fills in the
 * defaults before setup) and the same rules applied in code for callers that bypass the host.
 */
import type { JsonSchema } from '@trellis/core/api';
import { factsHostErrors } from './errors';
import { DEFAULT_OS_RELEASE_PATH } from './os-release';
import type { ProcessScope } from './processes';

export interface FactsHostConfig {
  /** Default /etc/os-release (falling back to /usr/lib/os-release). */
  osReleasePath?: string;
  /** Report the hostname; turn off where hostnames are sensitive. Default true. */
  includeHostname?: boolean;
  /** Which processes count: every one on the host, or those in the agent's network namespace (labs). Default host. */
  processScope?: ProcessScope;
  /** Poll /proc this often (ms) and report at once when the set of process names changes; 0 turns it off. Default 500. */
  processWatchMs?: number;
}

export type ResolvedFactsHostConfig = Required<FactsHostConfig>;

const KNOWN = ['osReleasePath', 'includeHostname', 'processScope', 'processWatchMs'];

export const factsHostConfigSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    osReleasePath: { type: 'string', minLength: 1, default: DEFAULT_OS_RELEASE_PATH },
    includeHostname: { type: 'boolean', default: true },
    processScope: { enum: ['host', 'netns'], default: 'host' },
    processWatchMs: { type: 'integer', minimum: 0, maximum: 600000, default: 500 },
  },
};

/** resolveFactsHostConfig applies defaults and rejects wrong types with a message naming the field. */
export function resolveFactsHostConfig(config: unknown): ResolvedFactsHostConfig {
  const c = (config ?? {}) as Record<string, unknown>;
  if (typeof c !== 'object' || Array.isArray(c)) throw factsHostErrors.invalidConfig('expected an object');
  for (const key of Object.keys(c)) {
    if (!KNOWN.includes(key)) throw factsHostErrors.invalidConfig(`unknown setting "${key}" (known: ${KNOWN.join(', ')})`);
  }
  const osReleasePath = c.osReleasePath ?? DEFAULT_OS_RELEASE_PATH;
  if (typeof osReleasePath !== 'string' || osReleasePath === '') {
    throw factsHostErrors.invalidConfig('osReleasePath must be a non-empty string path');
  }
  const includeHostname = c.includeHostname ?? true;
  if (typeof includeHostname !== 'boolean') throw factsHostErrors.invalidConfig('includeHostname must be true or false');
  const processScope = c.processScope ?? 'host';
  if (processScope !== 'host' && processScope !== 'netns') throw factsHostErrors.invalidConfig('processScope must be "host" or "netns"');
  const processWatchMs = c.processWatchMs ?? 500;
  if (typeof processWatchMs !== 'number' || !Number.isInteger(processWatchMs) || processWatchMs < 0 || processWatchMs > 600000) {
    throw factsHostErrors.invalidConfig('processWatchMs must be a whole number of ms from 0 (off) to 600000');
  }
  return { osReleasePath, includeHostname, processScope, processWatchMs };
}
