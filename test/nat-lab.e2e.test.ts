/**
 * The lab's routed underlay end to end (issue 11): `lab up --nat n1=easy,n2=hard --relays n3
 * --uplinks n4=2` on real namespaces, iptables MASQUERADE and bridges. STUN from behind each NAT
 * answers the router's public address, and the NATs classify as built; n4 is reachable on both
 * links and still on the second when the first goes down (`lab link`); `lab impair` adds the delay,
 * jitter and loss it says (NFQUEUE delay line, nft numgen), `--one-way` to one direction only, and
 * `--clear` takes them away; `lab roam` renumbers a node or its NAT router and every node reaches
 * it at the new address; bad input changes nothing; `lab down` leaves nothing. Only what this layer provides is asserted: pairs through the
 * hard NAT need the path manager, so the tunnels checked are the easy NAT's with public nodes.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, defaultCliPath } from '../core/src/lab/lab';
import type { LabUpOptions } from '../core/src/lab/lab-options';
import { cmdlineOf, isAlive } from '../core/src/lab/process-group';
import { run, tryRun } from '../core/src/sys/run';
import type { NodeView } from '../core/src/wire';

jest.setTimeout(240_000);

const dir = join(mkdtempSync(join(tmpdir(), 'trellis-nat-lab-e2e-')), 'lab');
const CLI = defaultCliPath();
let lab: Lab;

/** trellis runs the real CLI against this lab. */
function trellis(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, TRELLIS_LAB_DIR: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('close', (code) => resolve({ code: code ?? 1, out, err }));
  });
}

interface PingStats {
  sent: number;
  received: number;
  lossPct: number;
  min: number;
  avg: number;
  max: number;
}

/** ping runs ping inside a node's namespace and reads its summary. */
async function ping(node: string, target: string, count: number, intervalS = 0.02, extra: string[] = []): Promise<PingStats> {
  const r = await lab.exec(node, 'ping', ['-n', '-q', '-c', String(count), '-i', String(intervalS), '-W', '1', ...extra, target], { timeoutMs: 120_000 });
  const tx = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
  const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\//.exec(r.stdout);
  const sent = tx ? Number(tx[1]) : count;
  const received = tx ? Number(tx[2]) : 0;
  return {
    sent,
    received,
    lossPct: (100 * (sent - received)) / sent,
    min: rtt ? Number(rtt[1]) : NaN,
    avg: rtt ? Number(rtt[2]) : NaN,
    max: rtt ? Number(rtt[3]) : NaN,
  };
}

async function namespaces(): Promise<string[]> {
  return (JSON.parse((await run('ip', ['-j', 'netns', 'list'])) || '[]') as Array<{ name: string }>).map((n) => n.name);
}
async function rootLinks(): Promise<string[]> {
  return (JSON.parse(await run('ip', ['-j', 'link', 'show'])) as Array<{ ifname: string }>).map((l) => l.ifname);
}
function delayQueuePids(): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((p) => /(^|\/)trellis-delay-queue$/.test(cmdlineOf(p)?.[0] ?? ''));
}

beforeAll(async () => {
  lab = await Lab.up({ nodes: 4, dir, probeIntervalMs: 500, nat: { n1: 'easy', n2: 'hard' }, relays: ['n3'], uplinks: { n4: 2 } });
});

afterAll(async () => {
  await Lab.clear(dir); // even when a test failed half-way
});

test('the topology: n1 and n2 behind their routers, n4 on two links, STUN on two addresses', async () => {
  const d = lab.describe();
  expect(d.stun).toEqual(['198.18.0.1:3478', '198.18.0.2:3478']);
  const byName = Object.fromEntries(d.nodes.map((n) => [n.name, n]));
  expect(byName.n1).toMatchObject({ underlays: ['198.18.0.11'], privateAddress: '10.1.0.2', relay: false });
  expect(byName.n2).toMatchObject({ underlays: ['198.18.0.12'], privateAddress: '10.2.0.2' });
  expect(byName.n3).toMatchObject({ underlays: ['198.18.0.13'], privateAddress: null, relay: true });
  expect(byName.n4).toMatchObject({ underlays: ['198.18.0.14', '198.19.0.14'], privateAddress: null });
  expect(await namespaces()).toEqual(expect.arrayContaining(['trl-n1', 'trl-n1.router', 'trl-n2', 'trl-n2.router', 'trl-n3', 'trl-n4']));
  expect(await rootLinks()).toEqual(expect.arrayContaining(['trlbr0', 'trlbr1', 'trlv1', 'trlv2', 'trlv3', 'trlv4', 'trlv4u2']));
  // The node behind the NAT has only its LAN address; its router holds the public one and masquerades.
  const addr = await lab.exec('n1', 'ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0']);
  expect(addr.stdout).toContain('10.1.0.2/24');
  expect(addr.stdout).not.toContain('198.18.0.11');
  const nat = await run('iptables', ['-t', 'nat', '-S', 'POSTROUTING'], { netns: 'trl-n2.router' });
  expect(nat).toContain('-A POSTROUTING -o eth0 -j MASQUERADE --random-fully');
  expect(await run('iptables', ['-t', 'nat', '-S', 'POSTROUTING'], { netns: 'trl-n1.router' })).not.toContain('random-fully');
});

test('STUN from behind each NAT answers the router\'s public address, and the NATs measure as built', async () => {
  const d = lab.describe();
  const measured = Object.fromEntries(d.nodes.map((n) => [n.name, [n.nat.configured, n.nat.measured]]));
  expect(measured).toEqual({ n1: ['easy', 'easy'], n2: ['hard', 'hard'], n3: [null, 'open'], n4: [null, 'open'] });
  for (const [node, pub, priv] of [['n1', '198.18.0.11', '10.1.0.2'], ['n2', '198.18.0.12', '10.2.0.2']] as const) {
    const r = await lab.exec(node, process.execPath, [CLI, 'stun', '198.18.0.1:3478', '198.18.0.2:3478', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { answers: Array<{ mapped: { address: string; port: number } }>; nat: { type: string } };
    for (const a of j.answers) {
      expect(a.mapped.address).toBe(pub);
      expect(a.mapped.address).not.toBe(priv);
    }
    const ports = j.answers.map((a) => a.mapped.port);
    if (node === 'n1') expect(ports[0]).toBe(ports[1]);
    else expect(ports[0]).not.toBe(ports[1]);
  }
  const status = await trellis(['lab', 'status']);
  expect(status.code).toBe(0);
  expect(status.out).toMatch(/^n1\s+198\.18\.0\.11 \(node 10\.1\.0\.2\)\s+easy\s+easy\s+-$/m);
  expect(status.out).toMatch(/^n2\s+198\.18\.0\.12 \(node 10\.2\.0\.2\)\s+hard\s+hard\s+-$/m);
  expect(status.out).toMatch(/^n3\s+198\.18\.0\.13\s+none\s+open\s+yes$/m);
  expect(status.out).toMatch(/^n4\s+198\.18\.0\.14 198\.19\.0\.14\s+none\s+open\s+-$/m);
});

test('n3 is a relay as the controller knows it: stored, in the maps, in `trellis nodes`', async () => {
  const res = await lab.adminFetch('/v1/admin/nodes');
  const nodes = (await res.json()) as NodeView[];
  expect(Object.fromEntries(nodes.map((n) => [n.name, n.relay]))).toEqual({ n1: null, n2: null, n3: { port: 51821 }, n4: null });
  const listed = await trellis(['nodes']);
  expect(listed.out).toMatch(/^n3\s.*\budp\/51821\b/m);
  // n1's endpoints (its advertised one, then any reflexive ones its agent learned), then no relay.
  expect(listed.out).toMatch(/^n1\s.*198\.18\.0\.11:51820(?:\s+[\d.]+:\d+)*\s+-\s/m);
});

test('the easy NAT\'s node forms tunnels with the public nodes', async () => {
  const d = lab.describe();
  const overlay = Object.fromEntries(d.nodes.map((n) => [n.name, n.addresses!.ipv4]));
  for (const [from, to] of [['n1', 'n3'], ['n1', 'n4'], ['n3', 'n1'], ['n3', 'n4']] as const) {
    let ok = false;
    for (let i = 0; i < 20 && !ok; i++) ok = (await lab.exec(from, 'ping', ['-c', '1', '-W', '1', overlay[to]!])).code === 0;
    expect([from, to, ok]).toEqual([from, to, true]);
  }
});

test('n4 is reachable on both links, and on the second when the first goes down', async () => {
  for (const from of ['n1', 'n2', 'n3']) {
    for (const addr of ['198.18.0.14', '198.19.0.14']) expect([from, addr, (await ping(from, addr, 3, 0.1)).received]).toEqual([from, addr, 3]);
  }
  const pulled = await trellis(['lab', 'link', 'n4', '1', 'down']); // link 1's cable pulled at the host's end
  expect([pulled.code, pulled.out, pulled.err]).toEqual([0, 'lab: n4 link 1 down\n', '']);
  expect(await run('ip', ['-j', 'link', 'show', 'trlv4'])).toContain('"operstate":"DOWN"');
  try {
    for (const from of ['n1', 'n2', 'n3']) {
      expect([from, (await ping(from, '198.19.0.14', 5, 0.1)).received]).toEqual([from, 5]);
      expect([from, (await ping(from, '198.18.0.14', 2, 0.1)).received]).toEqual([from, 0]);
    }
    // n4's own traffic leaves by the link that is left.
    expect((await ping('n4', '198.18.0.13', 3, 0.1)).received).toBe(3);
  } finally {
    await lab.setUplink('n4', 1, true);
  }
  expect((await ping('n1', '198.18.0.14', 3, 0.2)).received).toBe(3);
});

test('lab impair n1 n4 adds ~40 ms ±5 ms and ~5 % loss to their direct path; --clear restores it', async () => {
  const base = await ping('n1', '198.18.0.14', 50, 0.02);
  expect(base.lossPct).toBe(0);
  const set = await trellis(['lab', 'impair', 'n1', 'n4', '--delay', '40ms', '--jitter', '5ms', '--loss', '5%']);
  expect(set.err).toBe('');
  expect(set.out).toBe('lab: n1–n4 impaired: +40 ms ±5 ms round trip, 5 % loss\n');
  const imp = Lab.load(dir).state.impairments!; // the CLI wrote the state file
  expect(imp).toHaveLength(1);
  const pids = imp[0]!.directions.map((d) => d.pid!);
  for (const p of pids) expect(isAlive(p)).toBe(true);
  expect(await run('iptables-legacy', ['-t', 'mangle', '-S'], { netns: 'trl-n1' })).toContain('-A TRLIMP4 -d 198.18.0.14/32 -j NFQUEUE --queue-num 104 --queue-bypass');
  expect(await run('iptables-legacy', ['-t', 'mangle', '-S'], { netns: 'trl-n4' })).toContain('-A TRLIMP1 -d 198.18.0.11/32 -j NFQUEUE --queue-num 101 --queue-bypass');
  expect(await run('nft', ['list', 'tables'], { netns: 'trl-n4' })).toContain('table inet trl_impair_1');

  const hit = await ping('n1', '198.18.0.14', 400, 0.01);
  const added = hit.avg - base.avg;
  expect(added).toBeGreaterThan(34);
  expect(added).toBeLessThan(50);
  expect(hit.min - base.avg).toBeGreaterThan(33); // nothing gets through faster than delay − jitter
  expect(hit.lossPct).toBeGreaterThan(1);
  expect(hit.lossPct).toBeLessThan(12);
  // The relay path (another address) is not impaired.
  expect((await ping('n1', '198.18.0.13', 20, 0.02)).avg).toBeLessThan(base.avg + 5);
  const shown = await trellis(['lab', 'status']);
  expect(shown.out).toContain('impaired    n1–n4: +40 ms ±5 ms round trip, 5 % loss');

  const cleared = await trellis(['lab', 'impair', 'n1', 'n4', '--clear']);
  expect(cleared.out).toBe('lab: n1–n4 is no longer impaired\n');
  for (const p of pids) expect(isAlive(p)).toBe(false);
  expect(await run('iptables-legacy', ['-t', 'mangle', '-S'], { netns: 'trl-n1' })).not.toContain('TRLIMP');
  expect(await run('nft', ['list', 'tables'], { netns: 'trl-n4' })).not.toContain('trl_impair');
  const after = await ping('n1', '198.18.0.14', 100, 0.02);
  expect(after.lossPct).toBe(0);
  expect(after.avg).toBeLessThan(base.avg + 5);
  console.log(
    `impair n1–n4: baseline ${base.avg.toFixed(3)} ms; impaired avg ${hit.avg.toFixed(3)} ms (min ${hit.min.toFixed(3)}, max ${hit.max.toFixed(3)}), ` +
      `loss ${hit.lossPct.toFixed(2)} % of ${hit.sent}; cleared ${after.avg.toFixed(3)} ms, loss ${after.lossPct} %`,
  );
});

/** icmpInEchos reads how many echo requests a node's namespace has received (per-namespace SNMP counters). */
async function icmpInEchos(node: string): Promise<number> {
  const lines = (await lab.exec(node, 'cat', ['/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Icmp:'));
  const [names, values] = lines.map((l) => l.split(/\s+/));
  return Number(values![names!.indexOf('InEchos')]);
}

test('lab impair --one-way --loss 100% cuts one direction only', async () => {
  const set = await trellis(['lab', 'impair', 'n3', 'n4', '--loss', '100%', '--one-way']);
  expect([set.code, set.out, set.err]).toEqual([0, 'lab: n3→n4 impaired: 100 % loss one way\n', '']);
  try {
    expect(Lab.load(dir).state.impairments!.find((i) => i.a === 'n3')!.directions.map((d) => `${d.from}->${d.to}`)).toEqual(['n3->n4']);
    // n4's echo requests reach n3; n3's replies (and its own requests) do not reach n4.
    const n3Before = await icmpInEchos('n3');
    expect((await ping('n4', '198.18.0.13', 5, 0.05)).received).toBe(0);
    expect((await icmpInEchos('n3')) - n3Before).toBe(5);
    const n4Before = await icmpInEchos('n4');
    expect((await ping('n3', '198.18.0.14', 5, 0.05)).received).toBe(0);
    expect((await icmpInEchos('n4')) - n4Before).toBe(0);
    expect((await trellis(['lab', 'status'])).out).toContain('impaired    n3→n4: 100 % loss one way');
  } finally {
    expect((await trellis(['lab', 'impair', 'n4', 'n3', '--clear'])).out).toBe('lab: n4–n3 is no longer impaired\n');
  }
  expect((await ping('n3', '198.18.0.14', 5, 0.05)).received).toBe(5);
});

test('lab roam renumbers a node (and a NAT router); impairments follow it; every node reaches it again', async () => {
  await lab.impair('n1', 'n3', { delayMs: 0, jitterMs: 0, lossPct: 100 }); // a cut that must follow n3
  const r = await trellis(['lab', 'roam', 'n3']);
  expect([r.code, r.out, r.err]).toEqual([0, 'lab: n3 roamed from 198.18.0.13 to 198.18.1.13\n', '']);
  expect(Lab.load(dir).node('n3').underlay).toBe('198.18.1.13');
  expect((await lab.exec('n3', 'ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout).not.toContain('198.18.0.13');
  expect((await ping('n1', '198.18.1.13', 3, 0.1)).received).toBe(0); // still cut, at the new address
  expect(Lab.load(dir).state.impairments![0]!.directions.find((d) => d.from === 'n1')!.destinations).toEqual(['198.18.1.13']);
  await Lab.load(dir).clearImpairments('n1', 'n3');
  for (const from of ['n1', 'n2', 'n4']) expect([from, (await ping(from, '198.18.1.13', 3, 0.1)).received]).toEqual([from, 3]);
  expect((await ping('n4', '198.18.0.13', 2, 0.1)).received).toBe(0);
  const stun = JSON.parse((await lab.exec('n3', process.execPath, [CLI, 'stun', '198.18.0.1:3478', '--json'])).stdout) as { answers: Array<{ mapped: { address: string } }> };
  expect(stun.answers[0]!.mapped.address).toBe('198.18.1.13');

  // Behind a NAT the router's public address moves; STUN sees the new one and the NAT is still easy.
  expect(await Lab.load(dir).roam('n1')).toBe('198.18.1.11');
  const n1 = Lab.load(dir).describe().nodes.find((n) => n.name === 'n1')!;
  expect([n1.underlays, n1.privateAddress, n1.nat.measured]).toEqual([['198.18.1.11'], '10.1.0.2', 'easy']);
  const seen = JSON.parse((await lab.exec('n1', process.execPath, [CLI, 'stun', '198.18.0.1:3478', '198.18.0.2:3478', '--json'])).stdout) as { answers: Array<{ mapped: { address: string } }> };
  expect(seen.answers.map((a) => a.mapped.address)).toEqual(['198.18.1.11', '198.18.1.11']);
  expect((await ping('n1', '198.18.1.13', 3, 0.1)).received).toBe(3);

  // And back again.
  expect(await Lab.load(dir).roam('n3')).toBe('198.18.0.13');
  expect(await Lab.load(dir).roam('n1')).toBe('198.18.0.11');
  expect((await ping('n1', '198.18.0.13', 3, 0.1)).received).toBe(3);
  expect((await trellis(['lab', 'status'])).out).toMatch(/^n3\s+198\.18\.0\.13\s+none\s+open\s+yes$/m);
});

test('bad input gets a clear error and changes nothing', async () => {
  const snapshot = () => JSON.stringify([Lab.load(dir).state.impairments, Lab.load(dir).state.nodes]);
  const before = snapshot();
  const linksBefore = await run('ip', ['-j', 'link', 'show']);
  const pidsBefore = delayQueuePids();
  const cases: Array<[string[], number, string]> = [
    [['lab', 'impair', 'n1', 'n9', '--delay', '10ms'], 1, 'no node "n9" in the lab'],
    [['lab', 'impair', 'n1', 'n1', '--delay', '10ms'], 2, 'name two different nodes (got n1 twice)'],
    [['lab', 'impair', 'n1', 'n4', '--delay', 'ten'], 2, '--delay "ten" is not a duration'],
    [['lab', 'impair', 'n1', 'n4', '--loss', '150%'], 2, '--loss "150%" is not a percentage from 0 to 100'],
    [['lab', 'impair', 'n1', 'n4', '--delay', '10ms', '--jitter', '20ms'], 2, '--jitter 20ms is more than --delay 10ms'],
    [['lab', 'impair', 'n1', 'n9', '--clear'], 1, 'no node "n9" in the lab'],
    [['lab', 'roam', 'n4'], 1, 'n4 has 2 underlay links; take one down'],
    [['lab', 'roam', 'n9'], 1, 'no node "n9" in the lab'],
    [['lab', 'link', 'n3', '2', 'down'], 1, 'n3 has one underlay link (1), not 2'],
    [['lab', 'link', 'n4', '3', 'down'], 1, 'n4 has underlay links 1..2, not 3'],
  ];
  for (const [argv, code, message] of cases) {
    const r = await trellis(argv);
    expect([argv.join(' '), r.code]).toEqual([argv.join(' '), code]);
    expect(r.err).toContain(message);
  }
  expect(snapshot()).toBe(before);
  const operstates = (j: string) => (JSON.parse(j) as Array<{ ifname: string; operstate: string }>).filter((l) => l.ifname.startsWith('trl')).map((l) => `${l.ifname}:${l.operstate}`);
  expect(operstates(await run('ip', ['-j', 'link', 'show']))).toEqual(operstates(linksBefore));
  expect(delayQueuePids()).toEqual(pidsBefore);

  // A topology naming nodes the lab would not have is refused before anything is cleared or made:
  // the running lab is untouched.
  const nsBefore = (await namespaces()).sort();
  for (const [opts, message] of [
    [{ relays: ['n9'] }, '--relays names "n9", which is not a node of this lab'],
    [{ nat: { n7: 'easy' } }, '--nat names "n7"'],
    [{ nat: { n1: 'easy' }, uplinks: { n1: 2 } }, 'both --nat and --uplinks'],
    [{ relays: ['n3', 'n3'] }, 'lists "n3" twice'],
  ] satisfies Array<[Partial<LabUpOptions>, string]>) {
    await expect(Lab.up({ nodes: 4, dir, ...opts })).rejects.toThrow(message);
  }
  const cli = await trellis(['lab', 'up', '--nodes', '2', '--relays', 'n3']);
  expect(cli.code).toBe(1);
  expect(cli.err).toContain('--relays names "n3", which is not a node of this lab (nodes: n1, n2); nothing was started');
  expect((await namespaces()).sort()).toEqual(nsBefore);
  expect(isAlive(lab.describe().controller.pid)).toBe(true);
  expect((await lab.status('n3')).map.source).toBe('controller');
});

test('lab down leaves nothing: namespaces, bridges, processes, rules, delay lines', async () => {
  await lab.impair('n2', 'n3', { delayMs: 10, jitterMs: 0, lossPct: 1 }); // something running to remove
  const pids = [lab.describe().controller.pid!, ...lab.describe().nodes.map((n) => n.pid!), ...lab.state.impairments!.flatMap((i) => i.directions.map((d) => d.pid!))];
  expect(delayQueuePids().length).toBeGreaterThanOrEqual(2);
  const down = await trellis(['lab', 'down']);
  expect(down.code).toBe(0);
  expect((await namespaces()).filter((n) => n.startsWith('trl-'))).toEqual([]);
  expect((await rootLinks()).filter((l) => l.startsWith('trl'))).toEqual([]);
  for (const p of pids) expect(isAlive(p)).toBe(false);
  expect(delayQueuePids()).toEqual([]);
  expect((await tryRun('nft', ['list', 'tables'])) ?? '').not.toContain('trellis_lab_forward');
  expect(existsSync('/var/run/wireguard') ? readdirSync('/var/run/wireguard').filter((f) => f.startsWith('trlwg')) : []).toEqual([]);
  expect(existsSync(join(dir, 'state.json'))).toBe(false);
});
