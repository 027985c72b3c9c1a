/**
 * collectPostureFacts: the facts posture policies check beyond what the host is (host-facts.ts):
 * disk encryption, host firewall, running processes and the WireGuard key's age. Shape documented
 * in policies/posture/README.md. A fact that cannot be read is left out, so the policy says so.
 */
import type { AgentAccess } from '@trellis/core/api';
import type { ResolvedFactsHostConfig } from './config';
import { collectDiskFacts, DEFAULT_SYS_PATHS, type DiskFacts } from './disk-encryption';
import { collectFirewallFacts, type FirewallFacts } from './host-firewall';
import { listProcessNames } from './processes';

export interface PostureFacts {
  disk?: DiskFacts;
  firewall?: FirewallFacts;
  processes?: string[];
  wgKey?: { createdAt: number };
}

export async function collectPostureFacts(
  config: ResolvedFactsHostConfig,
  agent: Pick<AgentAccess, 'wgKeyCreatedAt'> | undefined,
): Promise<PostureFacts> {
  const [disk, firewall, processes] = await Promise.all([
    collectDiskFacts(DEFAULT_SYS_PATHS).catch(() => null),
    collectFirewallFacts(),
    listProcessNames('/proc', config.processScope).catch(() => null),
  ]);
  const facts: PostureFacts = {};
  if (disk) facts.disk = disk;
  if (firewall) facts.firewall = firewall;
  if (processes) facts.processes = processes;
  if (typeof agent?.wgKeyCreatedAt === 'number') facts.wgKey = { createdAt: agent.wgKeyCreatedAt };
  return facts;
}
