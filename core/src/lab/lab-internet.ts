/**
 * The lab's "internet" (`trellis lab up --internet`): a namespace trl-inet on the lab bridge at
 * 198.18.0.3 that is every bridge node's default gateway and holds two public-looking servers,
 * 203.0.113.10 (TEST-NET-3) and 198.51.100.10 (TEST-NET-2), which answer ping and serve HTTP/1.1 on
 * port 80, answering with the address the connection came from (internet-echo-server.ts), so a test
 * can tell whether traffic left directly or through an exit node (the second one is for exclusions).
 * Removed with every other trl-* namespace by `lab down`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../sys/run';
import { isAlive, sleep, spawnDetached } from './process-group';
import { errors } from '../errors';
import { LAB_BRIDGE, LAB_SUBNET, NAMESPACE_PREFIX } from './lab-state';

export const INTERNET_NAMESPACE = `${NAMESPACE_PREFIX}inet`;
export const INTERNET_ROUTER = `${LAB_SUBNET.prefix}.3`;
export const INTERNET_SERVER = '203.0.113.10';
/** A second server on another network, for `--exit-exclude` tests. */
export const INTERNET_SERVER_2 = '198.51.100.10';
export const INTERNET_SERVER_PORT = 80;

/** The echo server's script beside this module (core/dist/lab when run from the built CLI or from ts-jest's lab). */
export function echoServerScript(): string {
  return join(__dirname, '..', '..', 'dist', 'lab', 'internet-echo-server.js');
}

/** createInternet makes the namespace, its link on the bridge, the server address and the echo server; returns the server's pid. */
export async function createInternet(logDir: string): Promise<number> {
  const ns = INTERNET_NAMESPACE;
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['link', 'add', 'trlvinet', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  await run('ip', ['link', 'set', 'trlvinet', 'master', LAB_BRIDGE]);
  await run('ip', ['link', 'set', 'trlvinet', 'up']);
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  await run('ip', ['-n', ns, 'addr', 'add', `${INTERNET_ROUTER}/${LAB_SUBNET.bits}`, 'dev', 'eth0']);
  for (const a of [INTERNET_SERVER, INTERNET_SERVER_2]) await run('ip', ['-n', ns, 'addr', 'add', `${a}/32`, 'dev', 'lo']);
  await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  const script = echoServerScript();
  if (!existsSync(script)) throw errors.lab(`${script} does not exist; build it with \`npx tsc -b core/tsconfig.json\``);
  const log = join(logDir, 'internet.log');
  const from = existsSync(log) ? statSync(log).size : 0;
  const pid = await spawnDetached('ip', ['netns', 'exec', ns, process.execPath, script, '0.0.0.0', String(INTERNET_SERVER_PORT)], log);
  await waitForListener(pid, log, from);
  return pid;
}

/** waitForListener waits until the echo server says it listens (or fails: its log says why). */
async function waitForListener(pid: number, log: string, from: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const text = existsSync(log) ? readFileSync(log, 'utf8').slice(from) : '';
    if (text.includes(`internet echo server on 0.0.0.0:${INTERNET_SERVER_PORT}`)) return;
    if (!isAlive(pid) || Date.now() > deadline) throw errors.lab(`the lab internet's web server did not start: ${text.trim().split('\n').pop() ?? 'no output'} (log ${log})`);
    await sleep(50);
  }
}

/** useInternet makes the internet namespace a node's default gateway. */
export async function useInternet(nodeNamespace: string): Promise<void> {
  await run('ip', ['-n', nodeNamespace, 'route', 'replace', 'default', 'via', INTERNET_ROUTER]);
}
