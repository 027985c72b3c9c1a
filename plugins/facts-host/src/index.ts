/**
 * facts-host: the agent plugin that reports what the host is (OS release, kernel, architecture,
 * CPUs, memory, agent version, hostname) through the collectFacts hook, for posture and inventory.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { definePlugin } from '@trellis/core/api';
import { factsHostConfigSchema, resolveFactsHostConfig, type FactsHostConfig, type ResolvedFactsHostConfig } from './config';
import { collectHostFacts } from './host-facts';

/** This package's version, read from its manifest (src/ and dist/ sit at the same depth). */
const version = (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;

/** Config in force: the defaults until setup receives the validated config. */
let config: ResolvedFactsHostConfig = resolveFactsHostConfig({});

export const factsHostPlugin = definePlugin<FactsHostConfig>({
  manifest: {
    name: 'facts-host',
    version,
    apiRange: '^1.0.0',
    sides: ['agent'],
    configSchema: factsHostConfigSchema,
  },
  setup(ctx) {
    config = resolveFactsHostConfig(ctx.config);
    ctx.log.debug({ osReleasePath: config.osReleasePath, includeHostname: config.includeHostname }, 'facts-host ready');
  },
  collectFacts() {
    return collectHostFacts(config);
  },
});

export default factsHostPlugin;

export { collectHostFacts, trellisAgentVersion } from './host-facts';
export type { HostFacts } from './host-facts';
export { factsHostConfigSchema, resolveFactsHostConfig } from './config';
export type { FactsHostConfig, ResolvedFactsHostConfig } from './config';
export {
  DEFAULT_OS_RELEASE_PATH,
  FALLBACK_OS_RELEASE_PATH,
  osInfoFrom,
  parseOsRelease,
  readOsRelease,
} from './os-release';
export type { OsInfo, OsReleaseFields } from './os-release';
export { FactsHostErrorCode, factsHostErrors } from './errors';
