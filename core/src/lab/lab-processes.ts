/**
 * The lab's processes: the controller in the root namespace and one `trellis up` per node
 * namespace, each in its own process group with its log file. Starting records the pid (through
 * save) before waiting, so `lab down` finds a process even when the wait fails.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { trustingFetch } from '../auth/controller-trust';
import { join } from 'node:path';
import { defaultStunServers } from '../agent/default-stun-servers';
import { AgentClient } from '../client/agent-client';
import { errors } from '../errors';
import { ROUTES } from '../wire';
import { labChildEnv } from './lab-env';
import { isAlive, isLabProcess, sleep, spawnDetached } from './process-group';
import type { LabControllerState, LabNodeState, LabState } from './lab-state';

export const AGENT_LISTEN_PORT = 51820;


/** startControllerProcess (re)starts the controller on its data dir and port and waits for /healthz. */
export async function startControllerProcess(st: LabState, c: LabControllerState, save: () => void): Promise<void> {
  if (isLabProcess(c.pid, st.cliPath)) return;
  const args = [st.cliPath, 'controller', '--listen', c.listen, '--data-dir', c.dataDir];
  if (st.configFile) args.push('--config', st.configFile);
  // STUN addresses are the first controller's: another one on the same host could not bind them.
  if (st.stun && st.stun.length > 0 && c.dataDir === st.controller?.dataDir) args.push('--stun', st.stun.join(','));
  if (!c.caFile) args.push('--insecure');
  mkdirSync(c.dataDir, { recursive: true, mode: 0o700 });
  const env = labChildEnv(process.env, st.env ?? {});
  // The store URL carries a password: by environment, so `ps` does not show it.
  if (st.store) env.TRELLIS_STORE = st.store;
  c.pid = await spawnDetached(process.execPath, args, c.log, env);
  save();
  const deadline = Date.now() + 30_000;
  const trusted = trustingFetch(c.caFile ? readFileSync(c.caFile, 'utf8') : null);
  for (;;) {
    if (!isAlive(c.pid)) throw errors.lab(`controller exited during start; see ${c.log}`);
    try {
      const res = await trusted(c.url + ROUTES.health, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw errors.lab(`controller did not answer ${ROUTES.health} within 30s; see ${c.log}`);
    await sleep(100);
  }
}

/**
 * advertisedEndpoints: what a lab node tells the controller with --endpoint. A node on the bridge
 * has its address on every link; behind an easy NAT the router's public address with the node's
 * port (the mapping keeps it); behind a hard NAT nothing fixed: the port there differs for every
 * destination, so router:51820 would be a candidate no peer can use. That node advertises what its
 * agent finds itself (its LAN address, its reflexive ones), like a node behind a real NAT.
 */
export function advertisedEndpoints(n: Pick<LabNodeState, 'underlay' | 'links' | 'nat'>): string[] {
  if (n.nat?.type === 'hard') return [];
  return (n.links ?? [{ address: n.underlay }]).map((l) => `${l.address}:${AGENT_LISTEN_PORT}`);
}

/**
 * agentStunArgs: the controller's STUN addresses (both of them), so the agent compares two
 * mappings and knows its own NAT, when the agent would ask that controller's STUN anyway (its
 * host is among them) and its own arguments name no other servers.
 */
export function agentStunArgs(st: Pick<LabState, 'stun'>, n: Pick<LabNodeState, 'agentArgs'>, controllerUrl: string): string[] {
  const stun = st.stun ?? [];
  if (stun.length < 2 || n.agentArgs?.includes('--stun')) return [];
  if (!defaultStunServers(controllerUrl).every((s) => stun.includes(s))) return [];
  return stun.flatMap((s) => ['--stun', s]);
}

/** spawnAgentProcess starts `trellis up` in the node's namespace; it does not wait for it. */
export async function spawnAgentProcess(st: LabState, n: LabNodeState, controller: Pick<LabControllerState, 'url' | 'caFile'>, save: () => void): Promise<void> {
  const args = [
    'netns', 'exec', n.namespace,
    process.execPath, st.cliPath, 'up',
    '--controller', controller.url,
    '--name', n.name,
    '--state-dir', n.stateDir,
    '--iface', n.iface,
    '--listen-port', String(AGENT_LISTEN_PORT),
    ...advertisedEndpoints(n).flatMap((e) => ['--endpoint', e]),
    '--probe-interval', `${st.probeIntervalMs}ms`,
  ];
  if (n.relay) args.push('--relay');
  args.push(...agentStunArgs(st, n, controller.url));
  if (st.configFile) args.push('--config', st.configFile);
  if (controller.caFile) args.push('--ca', controller.caFile);
  else args.push('--insecure');
  if (n.agentArgs) args.push(...n.agentArgs);
  const env = labChildEnv(process.env, st.env ?? {}, n.env ?? {});
  // The auth key goes by environment, not argv, so `ps` does not show it; only the first start needs it.
  if (st.authKey && !existsSync(join(n.stateDir, 'identity.json'))) env.TRELLIS_AUTH_KEY = st.authKey;
  n.pid = await spawnDetached('ip', args, n.log, env);
  save();
}

/** waitForAgentApi waits until the node's agent answers on its socket (not for a map). */
export async function waitForAgentApi(n: LabNodeState, timeoutMs: number): Promise<void> {
  const client = new AgentClient(n.socket);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!isAlive(n.pid)) throw errors.lab(`agent ${n.name} exited during start; see ${n.log}`);
    try {
      await client.status(1000);
      return;
    } catch {
      // socket not up yet
    }
    if (Date.now() > deadline) throw errors.lab(`agent ${n.name} did not answer on ${n.socket} within ${timeoutMs / 1000}s; see ${n.log}`);
    await sleep(100);
  }
}
