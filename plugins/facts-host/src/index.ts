/**
 * facts-host: the agent plugin that reports what the host is (OS release, kernel, architecture,
 * CPUs, memory, agent version, hostname) and its posture (disk encryption, host firewall, running
 * processes, WireGuard key age) through the collectFacts hook, for posture and inventory. A
 * process watcher asks for a facts refresh as soon as the set of running processes changes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { definePlugin } from '@trellis/core/api';
import { factsHostConfigSchema, resolveFactsHostConfig, type FactsHostConfig, type ResolvedFactsHostConfig } from './config';
import type { AgentAccess } from '@trellis/core/api';
import { collectHostFacts } from './host-facts';
import { collectPostureFacts } from './posture-facts';
import { ProcessWatcher } from './processes';

/** This package's version, read from its manifest (src/ and dist/ sit at the same depth). */
const version = (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;

/** Config in force: the defaults until setup receives the validated config. */
let config: ResolvedFactsHostConfig = resolveFactsHostConfig({});
let agent: AgentAccess | undefined;
let watcher: ProcessWatcher | null = null;

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
    agent = ctx.agent;
    watcher?.stop();
    watcher = null;
    if (config.processWatchMs > 0 && agent) {
      const refresh = agent.requestFactsRefresh.bind(agent);
      watcher = new ProcessWatcher({
        intervalMs: config.processWatchMs,
        scope: config.processScope,
        onChange: () => refresh(),
        onError: (err) => ctx.log.warn({ err: (err as Error).message }, 'process watcher could not read /proc'),
      });
      void watcher.start();
    }
    ctx.log.debug({ ...config }, 'facts-host ready');
  },
  async collectFacts() {
    const [host, posture] = await Promise.all([collectHostFacts(config), collectPostureFacts(config, agent)]);
    return { ...host, ...posture };
  },
  shutdown() {
    watcher?.stop();
    watcher = null;
    agent = undefined;
  },
});

export default factsHostPlugin;

export { collectHostFacts, trellisAgentVersion } from './host-facts';
export { collectPostureFacts } from './posture-facts';
export type { PostureFacts } from './posture-facts';
export { collectDiskFacts, DEFAULT_SYS_PATHS, rootMount } from './disk-encryption';
export type { DiskDevice, DiskFacts, SysPaths } from './disk-encryption';
export { collectFirewallFacts, firewallFromNftJson } from './host-firewall';
export type { FirewallFacts } from './host-firewall';
export { listProcessNames, ProcessWatcher } from './processes';
export type { ProcessScope, ProcessWatcherOptions } from './processes';
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
