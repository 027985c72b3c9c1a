/**
 * The facts-host config: its JSON schema (the plugin host validates against it and fills in the
 * defaults before setup) and the same rules applied in code for callers that bypass the host.
 */
import type { JsonSchema } from '@trellis/core/api';
import { factsHostErrors } from './errors';
import { DEFAULT_OS_RELEASE_PATH } from './os-release';

export interface FactsHostConfig {
  /** Default /etc/os-release (falling back to /usr/lib/os-release). */
  osReleasePath?: string;
  /** Report the hostname; turn off where hostnames are sensitive. Default true. */
  includeHostname?: boolean;
}

export type ResolvedFactsHostConfig = Required<FactsHostConfig>;

export const factsHostConfigSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    osReleasePath: { type: 'string', minLength: 1, default: DEFAULT_OS_RELEASE_PATH },
    includeHostname: { type: 'boolean', default: true },
  },
};

/** resolveFactsHostConfig applies defaults and rejects wrong types with a message naming the field. */
export function resolveFactsHostConfig(config: unknown): ResolvedFactsHostConfig {
  const c = (config ?? {}) as Record<string, unknown>;
  if (typeof c !== 'object' || Array.isArray(c)) throw factsHostErrors.invalidConfig('expected an object');
  for (const key of Object.keys(c)) {
    if (key !== 'osReleasePath' && key !== 'includeHostname') {
      throw factsHostErrors.invalidConfig(`unknown setting "${key}" (known: osReleasePath, includeHostname)`);
    }
  }
  const osReleasePath = c.osReleasePath ?? DEFAULT_OS_RELEASE_PATH;
  if (typeof osReleasePath !== 'string' || osReleasePath === '') {
    throw factsHostErrors.invalidConfig('osReleasePath must be a non-empty string path');
  }
  const includeHostname = c.includeHostname ?? true;
  if (typeof includeHostname !== 'boolean') throw factsHostErrors.invalidConfig('includeHostname must be true or false');
  return { osReleasePath, includeHostname };
}
