/**
 * The lab's network: a bridge in the root namespace that plays the internet, and one network
 * namespace per node joined to it by a veth pair. Also the sweep that removes all of it by name.
 */
import { readdirSync, unlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { run, runJson, tryRun } from '../sys/run';
import { cmdlineOf, isAlive, signalGroup, sleep, waitForExit } from './process-group';
import { BRIDGE_FORWARD_TABLE, BRIDGE_PREFIX, LAB_BRIDGE, bridgeMac, LAB_ROAM_SUBNET, LAB_STUN_SECOND_ADDRESS, LAB_SUBNET, NAMESPACE_PREFIX, VETH_PREFIX, WG_PREFIX } from './lab-state';

export const WIREGUARD_SOCKET_DIR = '/var/run/wireguard';

export async function createBridge(): Promise<void> {
  await run('ip', ['link', 'add', LAB_BRIDGE, 'type', 'bridge']);
  // A fixed MAC: one taken from a port would change as nodes join (see bridgeMac).
  await run('ip', ['link', 'set', LAB_BRIDGE, 'address', bridgeMac(0, 1)]);
  await run('ip', ['addr', 'add', `${LAB_SUBNET.gateway}/${LAB_SUBNET.bits}`, 'dev', LAB_BRIDGE]);
  // The second address of the controller's STUN service, so nodes can compare two mappings.
  await run('ip', ['addr', 'add', `${LAB_STUN_SECOND_ADDRESS}/${LAB_SUBNET.bits}`, 'dev', LAB_BRIDGE]);
  // The gateway of the subnet roaming nodes move to (lab.roam); the host routes it to 198.18.0.0/24.
  await run('ip', ['addr', 'add', `${LAB_ROAM_SUBNET.gateway}/${LAB_ROAM_SUBNET.bits}`, 'dev', LAB_BRIDGE]);
  await run('ip', ['link', 'set', LAB_BRIDGE, 'up']);
}

export interface NodeNetwork {
  namespace: string;
  veth: string;
  underlay: string;
}

/** createNodeNetwork makes the namespace, its veth pair on the bridge, address and default route. */
export async function createNodeNetwork(n: NodeNetwork): Promise<void> {
  const ns = n.namespace;
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['link', 'add', n.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  await run('ip', ['link', 'set', n.veth, 'master', LAB_BRIDGE]);
  await run('ip', ['link', 'set', n.veth, 'up']);
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  await run('ip', ['-n', ns, 'addr', 'add', `${n.underlay}/${LAB_SUBNET.bits}`, 'dev', 'eth0']);
  await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  await run('ip', ['-n', ns, 'route', 'add', 'default', 'via', LAB_SUBNET.gateway]);
}

/** labNamespaces lists the namespaces named trl-* on the machine. */
export async function labNamespaces(): Promise<string[]> {
  const list = await runJson<Array<{ name: string }>>('ip', ['-j', 'netns', 'list']).catch(() => []);
  return list.map((n) => n.name).filter((n) => n.startsWith(NAMESPACE_PREFIX));
}

/** labRootLinks lists root-namespace links the lab owns: the bridges trlbr*, trlv* veths and trlwg*. */
export async function labRootLinks(): Promise<string[]> {
  const links = await runJson<Array<{ ifname: string }>>('ip', ['-j', 'link', 'show']).catch(() => []);
  return links.map((l) => l.ifname).filter((n) => n === LAB_BRIDGE || n.startsWith(BRIDGE_PREFIX) || n.startsWith(VETH_PREFIX) || n.startsWith(WG_PREFIX));
}

/** labRootTables lists the lab's nft tables in the root namespace (the bridges' forward filter). */
export async function labRootTables(): Promise<string[]> {
  const out = (await tryRun('nft', ['list', 'tables'])) ?? '';
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((w) => w[0] === 'table' && w[2] === BRIDGE_FORWARD_TABLE)
    .map((w) => `${w[1]} ${w[2]}`);
}

/** labWireguardSockets lists the UAPI (and trellis-wg control) sockets of trlwg* interfaces (the directory is machine-wide). */
export function labWireguardSockets(): string[] {
  try {
    return readdirSync(WIREGUARD_SOCKET_DIR)
      .filter((f) => f.startsWith(WG_PREFIX) && (f.endsWith('.sock') || f.endsWith('.ctl')))
      .map((f) => `${WIREGUARD_SOCKET_DIR}/${f}`);
  } catch {
    return [];
  }
}

/** namespacePids lists the processes running inside a namespace. */
async function namespacePids(ns: string): Promise<number[]> {
  const out = (await tryRun('ip', ['netns', 'pids', ns])) ?? '';
  return out
    .split(/\s+/)
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .filter((p) => p !== process.pid);
}

/** strayDelayQueuePids finds the lab's delay lines (trellis-delay-queue), wherever they run. */
function strayDelayQueuePids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = cmdlineOf(Number(entry));
    if (argv && argv.length > 0 && /(^|\/)trellis-delay-queue$/.test(argv[0]!)) pids.push(Number(entry));
  }
  return pids;
}

/** strayWireguardPids finds wireguard-go (or trellis-wg) processes serving a trlwg* interface, wherever they run. */
function strayWireguardPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = cmdlineOf(Number(entry));
    if (!argv || argv.length === 0 || !/(^|\/)(wireguard-go|trellis-wg)$/.test(argv[0]!)) continue;
    if (argv.slice(1).some((a) => new RegExp(`^${WG_PREFIX}\\d+$`).test(a))) pids.push(Number(entry));
  }
  return pids;
}

/**
 * strayLabControllerPids finds lab controllers by their signature (`cli/main.js controller --listen
 * 198.18.0.1:<port>`), e.g. one a lab with another state dir left behind.
 */
function strayLabControllerPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const argv = cmdlineOf(Number(entry));
    if (!argv) continue;
    const cli = argv.findIndex((a) => a.endsWith('/cli/main.js'));
    if (cli < 0 || argv[cli + 1] !== 'controller') continue;
    const listen = argv[argv.indexOf('--listen') + 1] ?? '';
    if (argv.includes('--listen') && listen.startsWith(`${LAB_SUBNET.gateway}:`)) pids.push(Number(entry));
  }
  return pids;
}

async function stopPids(pids: number[]): Promise<void> {
  const live = pids.filter(isAlive);
  for (const p of live) signalGroup(p, 'SIGTERM');
  const deadline = Date.now() + 3000;
  for (const p of live) await waitForExit(p, Math.max(0, deadline - Date.now()));
  for (const p of live.filter(isAlive)) signalGroup(p, 'SIGKILL');
  for (const p of live) await waitForExit(p, 1000);
}

/** removeNamespace stops every process inside ns, then deletes it (and with it the veth pair). */
export async function removeNamespace(ns: string): Promise<void> {
  await stopPids(await namespacePids(ns));
  for (let attempt = 0; attempt < 5; attempt++) {
    if ((await tryRun('ip', ['netns', 'del', ns])) !== null) return;
    if (!(await labNamespaces()).includes(ns)) return;
    await sleep(200);
  }
  await run('ip', ['netns', 'del', ns]);
}

/**
 * sweepLabNetwork removes, by name, everything the lab's network may have left: namespaces trl-*
 * (nodes and their routers, with every rule and delay line inside), links trlv*, trlwg* and
 * trlbr*, the bridges' nft forward table, wireguard-go processes for trlwg* and their UAPI
 * sockets, trellis-delay-queue processes, and lab controllers listening on the bridge address.
 */
export async function sweepLabNetwork(extraNamespaces: string[] = []): Promise<void> {
  const namespaces = new Set([...(await labNamespaces()), ...extraNamespaces]);
  for (const ns of namespaces) await removeNamespace(ns);
  await stopPids([...strayWireguardPids(), ...strayLabControllerPids(), ...strayDelayQueuePids()]);
  for (const link of await labRootLinks()) await tryRun('ip', ['link', 'del', link]);
  for (const table of await labRootTables()) await tryRun('nft', ['delete', 'table', ...table.split(' ')]);
  for (const sock of labWireguardSockets()) {
    try {
      unlinkSync(sock);
    } catch {
      // gone already
    }
  }
}

/** freePort asks the kernel for a TCP port that is free on host right now. */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
