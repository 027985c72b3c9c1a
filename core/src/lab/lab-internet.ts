/**
 * The lab's "internet" (`trellis lab up --internet`): a namespace trl-inet on the lab bridge at
 * 198.18.0.3 that is every bridge node's default gateway and holds a public-looking server,
 * 203.0.113.10 (TEST-NET-3), which answers ping and, on TCP port 80, writes back the address the
 * connection came from, so a test can tell whether traffic left directly or through an exit node.
 * Removed with every other trl-* namespace by `lab down`.
 */
import { join } from 'node:path';
import { run } from '../sys/run';
import { spawnDetached } from './process-group';
import { LAB_BRIDGE, LAB_SUBNET, NAMESPACE_PREFIX } from './lab-state';

export const INTERNET_NAMESPACE = `${NAMESPACE_PREFIX}inet`;
export const INTERNET_ROUTER = `${LAB_SUBNET.prefix}.3`;
export const INTERNET_SERVER = '203.0.113.10';
export const INTERNET_SERVER_PORT = 80;

/** createInternet makes the namespace, its link on the bridge, the server address and the echo server; returns the server's pid. */
export async function createInternet(logDir: string): Promise<number> {
  const ns = INTERNET_NAMESPACE;
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['link', 'add', 'trlvinet', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  await run('ip', ['link', 'set', 'trlvinet', 'master', LAB_BRIDGE]);
  await run('ip', ['link', 'set', 'trlvinet', 'up']);
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  await run('ip', ['-n', ns, 'addr', 'add', `${INTERNET_ROUTER}/${LAB_SUBNET.bits}`, 'dev', 'eth0']);
  await run('ip', ['-n', ns, 'addr', 'add', `${INTERNET_SERVER}/32`, 'dev', 'lo']);
  await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  // socat answers each connection with the peer address it saw.
  return spawnDetached(
    'ip',
    ['netns', 'exec', ns, 'socat', `TCP-LISTEN:${INTERNET_SERVER_PORT},bind=${INTERNET_SERVER},reuseaddr,fork`, 'SYSTEM:echo $SOCAT_PEERADDR'],
    join(logDir, 'internet.log'),
  );
}

/** useInternet makes the internet namespace a node's default gateway. */
export async function useInternet(nodeNamespace: string): Promise<void> {
  await run('ip', ['-n', nodeNamespace, 'route', 'replace', 'default', 'via', INTERNET_ROUTER]);
}
