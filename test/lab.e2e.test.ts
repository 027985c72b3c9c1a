/**
 * The local lab end to end: Lab.up builds namespaces, a bridge, a controller and agents that form
 * a mesh; the restart methods work; down() leaves nothing behind. Needs root, ip and wireguard-go,
 * and a built CLI (`npx tsc -b core/tsconfig.json`).
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab } from '../core/src/lab/lab';
import { labSettingsAtUp } from '../core/src/lab/lab-env';
import { isAlive } from '../core/src/lab/process-group';
import { bridgeMac } from '../core/src/lab/lab-state';
import { run } from '../core/src/sys/run';

jest.setTimeout(180_000);

const dir = join(mkdtempSync(join(tmpdir(), 'trellis-lab-e2e-')), 'lab');
let lab: Lab | null = null;

async function namespaces(): Promise<string[]> {
  return JSON.parse((await run('ip', ['-j', 'netns', 'list'])) || '[]').map((n: { name: string }) => n.name);
}
async function rootLinks(): Promise<string[]> {
  return JSON.parse(await run('ip', ['-j', 'link', 'show'])).map((l: { ifname: string }) => l.ifname);
}
function wgSockets(): string[] {
  return existsSync('/var/run/wireguard') ? readdirSync('/var/run/wireguard').filter((f) => f.startsWith('trlwg') && !foreignSockets.has(f)) : [];
}
/** Sockets another run left behind before this file started are not this lab's to remove. */
const foreignSockets = new Set(existsSync('/var/run/wireguard') ? readdirSync('/var/run/wireguard') : []);

afterAll(async () => {
  await Lab.clear(dir); // even when a test failed half-way
});

/** The TRELLIS_* variables a process started with. */
function trellisVariables(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').filter((v) => v.startsWith('TRELLIS_')).sort();
}

test('up builds a 2-node mesh in namespaces', async () => {
  // A caller's shell set up for a real agent: none of it may steer the lab's processes.
  const callerVariables = { TRELLIS_RELAY: '1', TRELLIS_ADMIN_TOKEN: 'caller-admin-token', TRELLIS_STATE_DIR: '/nonexistent/trellis', TRELLIS_CONFIG: '/nonexistent/config.yaml' };
  Object.assign(process.env, callerVariables);
  try {
    lab = await Lab.up({ nodes: 2, dir, probeIntervalMs: 200, env: { TRELLIS_LOG_LEVEL: 'info' } });
  } finally {
    for (const name of Object.keys(callerVariables)) delete process.env[name];
  }
  expect(await namespaces()).toEqual(expect.arrayContaining(['trl-n1', 'trl-n2']));
  expect(await rootLinks()).toEqual(expect.arrayContaining(['trlbr0', 'trlv1', 'trlv2']));
  const d = lab.describe();
  expect(isAlive(d.controller.pid)).toBe(true);
  expect(d.nodes.map((n) => [n.name, n.namespace, n.iface, n.underlay])).toEqual([
    ['n1', 'trl-n1', 'trlwg1', '198.18.0.11'],
    ['n2', 'trl-n2', 'trlwg2', '198.18.0.12'],
  ]);
  for (const n of d.nodes) expect(isAlive(n.pid)).toBe(true);
  // The agents got the lab's environment and their auth key, the controller the lab's environment only.
  const settings = Object.entries(labSettingsAtUp(process.env, { TRELLIS_LOG_LEVEL: 'info' })).map(([k, v]) => `${k}=${v}`);
  expect(trellisVariables(d.controller.pid!)).toEqual(settings.sort());
  for (const n of d.nodes) expect(trellisVariables(n.pid!).filter((v) => !v.startsWith('TRELLIS_AUTH_KEY='))).toEqual(settings.sort());

  const s1 = await lab.status('n1');
  expect(s1.map.source).toBe('controller');
  expect(s1.peers.map((p) => p.name)).toEqual(['n2']);

  // The tunnel carries traffic: n1 pings n2's overlay address from inside its namespace.
  const ping = await lab.exec('n1', 'ping', ['-c', '2', '-W', '2', d.nodes[1]!.addresses!.ipv4]);
  expect(ping.code).toBe(0);

  const res = await lab.adminFetch('/v1/admin/nodes');
  expect(res.status).toBe(200);
  expect(((await res.json()) as Array<{ name: string }>).map((n) => n.name).sort()).toEqual(['n1', 'n2']);

  // The bridge keeps its own MAC whatever its ports' are, so the gateway n1 resolved when it
  // enrolled is the gateway's MAC still after n2 joined (a port's MAC would change with joins).
  const mac = (l: Array<{ address: string }>) => l[0]!.address;
  expect(mac(JSON.parse(await run('ip', ['-j', 'link', 'show', 'dev', 'trlbr0'])))).toBe(bridgeMac(0, 1));
  const gw = JSON.parse(await run('ip', ['-j', '-n', 'trl-n1', 'neigh', 'show', '198.18.0.1'])) as Array<{ lladdr?: string }>;
  expect(gw.map((n) => n.lladdr)).toEqual([bridgeMac(0, 1)]);
});

test('Lab.load attaches from the state file; restarts keep the mesh', async () => {
  const again = Lab.load(dir);
  expect(again.nodeNames).toEqual(['n1', 'n2']);

  await again.stopAgent('n2');
  expect(again.node('n2').pid).toBeNull();
  await again.startAgent('n2');
  await again.waitForMesh(30_000);

  await again.stopController();
  await again.startController();
  const res = await again.adminFetch('/v1/admin/keys');
  expect(res.status).toBe(200);
});

test('down removes namespaces, links, sockets, processes and the lab dir', async () => {
  const pids = [lab!.describe().controller.pid, ...Lab.load(dir).describe().nodes.map((n) => n.pid)];
  await lab!.down();
  const ns = await namespaces();
  expect(ns.filter((n) => n.startsWith('trl-'))).toEqual([]);
  expect((await rootLinks()).filter((l) => l === 'trlbr0' || l.startsWith('trlv') || l.startsWith('trlwg'))).toEqual([]);
  expect(wgSockets()).toEqual([]);
  for (const p of pids) expect(isAlive(p)).toBe(false);
  expect(existsSync(dir)).toBe(false);
  await Lab.clear(dir); // idempotent
});
