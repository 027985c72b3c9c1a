/**
 * Controller HA on PostgreSQL (issue 14, test 5): two controllers share one private PostgreSQL
 * cluster (initdb + pg_ctl in a temp dir); every agent knows both URLs. A change made through the
 * controller the agents are not connected to reaches them (LISTEN/NOTIFY), both ways; the controller they are
 * connected to is killed (SIGKILL) during a 100 pps ping across the mesh; they fail over to the
 * other, the next change reaches them from it within 5 s, and the ping loses nothing.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { PostgresCluster } from '../core/src/lab/postgres-cluster';
import { defaultCliPath, Lab } from '../core/src/lab/lab';
import { ROUTES, type NodeView } from '../core/src/wire';
import { pingStream } from './support/ping-stream';
import { peerNames } from './support/mesh';
import { waitFor } from './support/wait';

jest.setTimeout(240_000);

let pg: PostgresCluster | null = null;
let lab: Lab | null = null;
let pgDir = '';

const foreignSockets = new Set(existsSync('/var/run/wireguard') ? readdirSync('/var/run/wireguard') : []);

beforeAll(async () => {
  pg = await PostgresCluster.start({ durable: false });
  pgDir = pg.info.dir;
  const store = await pg.createDatabase('trellis');
  lab = await Lab.up({ nodes: 3, store, controllers: 2 });
}, 200_000);

afterAll(async () => {
  await lab?.down();
  await pg?.remove();
});

const L = () => lab!;

test('both controllers serve one control plane: same nodes, and a change through one reaches agents on the other', async () => {
  const [a, b] = L().controllerUrls;
  for (const n of ['n1', 'n2', 'n3']) {
    const st = await L().status(n);
    expect(st.controller).toMatchObject({ url: a, connected: true });
  }
  const viaA = await L().admin(0).request<NodeView[]>('GET', ROUTES.adminNodes);
  const viaB = await L().admin(1).request<NodeView[]>('GET', ROUTES.adminNodes);
  expect(viaB.map((n) => [n.name, n.online])).toEqual(viaA.map((n) => [n.name, n.online]));
  // Online comes from streams held by controller A; B's view says so too (shared presence).
  expect(viaB.filter((n) => n.online).map((n) => n.name).sort()).toEqual(['n1', 'n2', 'n3']);

  // Asked through B to rotate; n3 streams from A, hears it there, rotates, and n1 and n2 (on A) get the new key.
  const oldKey = (await L().status('n3')).node.wgKey;
  const t0 = Date.now();
  await L().admin(1).request('POST', ROUTES.adminRotateKeys, { node: 'n3' });
  for (const n of ['n1', 'n2']) {
    await waitFor(`${n} holds n3's new key (rotation asked through ${b})`, async () => {
      const peer = (await L().status(n)).peers.find((p) => p.name === 'n3');
      return peer && peer.wgKey !== oldKey ? peer : null;
    }, 10_000, 50);
  }
  expect(Date.now() - t0).toBeLessThan(10_000);
});

test('kill the controller the agents use: they fail over, the next change arrives within 5 s, a ping across the mesh loses nothing', async () => {
  const [, b] = L().controllerUrls;
  const before = await L().status('n1');
  const pids = ['n1', 'n2'].map((n) => L().node(n).pid);
  const n2 = (await L().status('n2')).node.addresses!.ipv4;
  // 100 pps for 12 s from n1 to n2 across the kill and the failover.
  const ping = pingStream(L(), 'n1', n2, { count: 1200, intervalMs: 10 });
  await new Promise((r) => setTimeout(r, 2_000));
  await L().killController(0);
  for (const n of ['n1', 'n2']) {
    await waitFor(`${n} streams from ${b}`, async () => {
      const st = await L().status(n);
      return st.controller.connected && st.controller.url === b ? st : null;
    }, 10_000, 100);
  }
  const after = await L().status('n1');
  // A full map from the other controller (its own epoch), with the same peers.
  expect(after.map.epoch).not.toBe(before.map.epoch);
  expect(after.peers.map((p) => [p.name, p.wgKey])).toEqual(before.peers.map((p) => [p.name, p.wgKey]));

  // The next change: a new node enrolls (through B, the only one left) and reaches both.
  const t0 = Date.now();
  const seen = Promise.all(['n1', 'n2'].map((n) => waitFor(`${n} sees n4`, async () => (await peerNames(L(), n)).includes('n4'), 90_000, 50).then(() => Date.now())));
  await L().addNode('n4', 60_000);
  const seenAt = await seen;
  const n4 = (await L().admin(1).request<NodeView[]>('GET', ROUTES.adminNodes)).find((n) => n.name === 'n4')!;
  // From its enrolment (the controller's clock, this machine's) to the last of n1 and n2 holding it.
  expect(Math.max(...seenAt) - n4.createdAt).toBeLessThan(5_000);

  const r = await ping;
  expect({ sent: r.sent, lost: r.lost }).toEqual({ sent: 1200, lost: 0 });
  expect(['n1', 'n2'].map((n) => L().node(n).pid)).toEqual(pids);
  // The dead controller's record lapses; the survivor keeps the nodes online.
  const nodes = await L().admin(1).request<NodeView[]>('GET', ROUTES.adminNodes);
  expect(nodes.filter((n) => n.online && !n.revoked).map((n) => n.name).sort()).toEqual(['n1', 'n2', 'n3', 'n4']);
  expect(Date.now() - t0).toBeLessThan(90_000);

  // The admin CLI takes the lab's controller list as agents do: with A down it answers from B.
  const cli = await promisify(execFile)(process.execPath, [defaultCliPath(), 'nodes', '--json'], { env: { ...process.env, TRELLIS_LAB_DIR: L().dir, TRELLIS_CONTROLLER: '' } });
  expect((JSON.parse(cli.stdout) as NodeView[]).map((n) => n.name).sort()).toEqual(['n1', 'n2', 'n3', 'n4']);
});

test('the killed controller comes back with the same state; a revocation through it reaches agents on the other', async () => {
  await L().startController(0);
  const viaA = await L().admin(0).request<NodeView[]>('GET', ROUTES.adminNodes);
  expect(viaA.map((n) => n.name).sort()).toEqual(['n1', 'n2', 'n3', 'n4']);
  await waitFor('A sees the nodes B holds as online', async () => {
    const nodes = await L().admin(0).request<NodeView[]>('GET', ROUTES.adminNodes);
    return nodes.filter((n) => n.online).map((n) => n.name).sort().join(',') === 'n1,n2,n3,n4';
  }, 5_000, 100);
  for (const n of ['n1', 'n2']) expect((await L().status(n)).controller.url).toBe(L().controllerUrls[1]);
  const t0 = Date.now();
  await L().admin(0).request('POST', ROUTES.adminRevoke.replace(':name', 'n4'));
  for (const n of ['n1', 'n2']) await waitFor(`${n} drops n4 (revoked through A)`, async () => !(await peerNames(L(), n)).includes('n4'), 5_000, 50);
  expect(Date.now() - t0).toBeLessThan(5_000);
});

test('cleanup: lab down and the cluster removal leave no namespace, socket, process or directory', async () => {
  await lab!.down();
  lab = null;
  await pg!.remove();
  pg = null;
  expect(existsSync(pgDir)).toBe(false);
  const sockets = existsSync('/var/run/wireguard') ? readdirSync('/var/run/wireguard').filter((s) => s.startsWith('trlwg') && !foreignSockets.has(s)) : [];
  expect(sockets).toEqual([]);
});
