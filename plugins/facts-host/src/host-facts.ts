/**
 * collectHostFacts: what the host is, for posture policies and the inventory: OS release, kernel,
 * machine architecture, CPUs, memory, the agent's version and (optionally) the hostname.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { osInfoFrom, readOsRelease, type OsInfo } from './os-release';
import type { ResolvedFactsHostConfig } from './config';

export type HostFacts = {
  os: OsInfo;
  kernel: { release: string; version: string };
  /** The kernel's machine name, as `uname -m` prints it (x86_64, aarch64, ...). */
  arch: string;
  hostname?: string;
  agent: { version: string };
  /** Logical CPUs. */
  cpus: number;
  memoryBytes: number;
};

let agentVersion: string | undefined;

/** The version of @trellis/core, i.e. of the agent running this plugin. */
export function trellisAgentVersion(): string {
  if (agentVersion === undefined) {
    const manifest = JSON.parse(readFileSync(require.resolve('@trellis/core/package.json'), 'utf8')) as { version?: unknown };
    agentVersion = typeof manifest.version === 'string' ? manifest.version : 'unknown';
  }
  return agentVersion;
}

export async function collectHostFacts(config: ResolvedFactsHostConfig): Promise<HostFacts> {
  const { fields } = await readOsRelease(config.osReleasePath);
  const facts: HostFacts = {
    os: osInfoFrom(fields),
    kernel: { release: os.release(), version: os.version() },
    arch: os.machine(),
    ...(config.includeHostname ? { hostname: os.hostname() } : {}),
    agent: { version: trellisAgentVersion() },
    // os.cpus() is empty where /proc/cpuinfo is hidden; the scheduler's view is the next best.
    cpus: os.cpus().length || os.availableParallelism(),
    memoryBytes: os.totalmem(),
  };
  return facts;
}
