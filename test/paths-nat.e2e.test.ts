/**
 * The NAT matrix on the lab (issue 11, test 3): n1 and n2 each behind an endpoint-independent
 * ("easy") NAT, n4 and n5 each behind a per-destination ("hard", --random-fully) NAT, n3 public
 * and the relay. Both ends of a pair ping all of each other's candidates at once through their
 * WireGuard sockets, so easy–easy and easy–public pairs punch through and go direct; hard–hard
 * pairs cannot and go through the relay; every pair can ping. The lab's routers drop unsolicited
 * traffic to themselves like a home router, so a punching ping that arrives early leaves no
 * conntrack entry that would move the other side's mapping to another port.
 *
 * Bad input on the same lab (issue 11, test 7): STUN servers that answer with malformed
 * responses, malformed endpoints reported to the controller with a node's own signature, and a
 * relay node flagged twice get clear errors and change nothing.
 */
import { createSocket, type Socket } from 'node:dgram';
import { ed25519PrivateKey } from '../core/src/auth/keys';
import { signRequest } from '../core/src/auth/signing';
import { loadIdentity } from '../core/src/agent/identity';
import { Lab } from '../core/src/lab/lab';
import { StunAttr, StunClass, StunMethod, encodeStunMessage, parseStunMessage } from '../core/src/stun/stun-message';
import { ROUTES, type NodeView, type PeerPathStatus } from '../core/src/wire';
import { pingPairs } from './support/mesh';
import { waitFor } from './support/wait';

jest.setTimeout(300_000);

const NODES = ['n1', 'n2', 'n3', 'n4', 'n5'];
let lab: Lab;

/**
 * Three STUN servers on the host that answer every binding request with one kind of malformed
 * response each (on 198.18.0.1 once the lab's bridge exists; bound to every address before it).
 */
const BAD_STUN = [
  { port: 3479, why: 'a malformed XOR-MAPPED-ADDRESS', attributes: [{ type: StunAttr.XOR_MAPPED_ADDRESS, value: Buffer.from([0, 1, 0xc8]) }], cls: StunClass.success },
  { port: 3480, why: 'a success response without XOR-MAPPED-ADDRESS or MAPPED-ADDRESS', attributes: [], cls: StunClass.success },
  { port: 3481, why: 'an error response without a valid ERROR-CODE', attributes: [], cls: StunClass.error },
] as const;
const badStun: Array<{ socket: Socket; from: Set<string> }> = [];

beforeAll(async () => {
  for (const b of BAD_STUN) {
    const socket = createSocket('udp4');
    const from = new Set<string>();
    socket.on('message', (msg, rinfo) => {
      const req = parseStunMessage(msg);
      if (!req.ok || req.message.cls !== StunClass.request) return;
      from.add(`${rinfo.address}:${rinfo.port}`);
      socket.send(encodeStunMessage({ cls: b.cls, method: StunMethod.binding, transactionId: req.message.transactionId, attributes: [...b.attributes] }), rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve, reject) => socket.once('error', reject).bind(b.port, '0.0.0.0', () => resolve()));
    badStun.push({ socket, from });
  }
  // n1 asks the controller's STUN service and the three bad servers, through its WireGuard socket.
  const stun = ['198.18.0.1:3478', ...BAD_STUN.map((b) => `198.18.0.1:${b.port}`)].flatMap((a) => ['--stun', a]);
  lab = await Lab.up({ nodes: 5, nat: { n1: 'easy', n2: 'easy', n4: 'hard', n5: 'hard' }, relays: ['n3'], agentArgs: { n1: stun } });
});

afterAll(async () => {
  for (const b of badStun) b.socket.close();
  await lab?.down();
});

async function pathTo(node: string, peer: string): Promise<PeerPathStatus | undefined> {
  return (await lab.status(node)).paths?.peers.find((p) => p.peer === peer);
}

/** waitPath waits until both ends of a pair report the same kind of path (direct or via relay n3). */
async function waitPath(a: string, b: string, want: 'direct' | 'n3'): Promise<void> {
  await waitFor(
    `${a}–${b} ${want === 'direct' ? 'direct' : 'through relay n3'} on both ends`,
    async () => (await pathTo(a, b))?.label === want && (await pathTo(b, a))?.label === want,
    45_000,
    250,
  ).catch(async (err: Error) => {
    const show = (x: PeerPathStatus | undefined) => JSON.stringify(x && { active: x.active, reason: x.reason, candidates: x.candidates.map((c) => [c.id, c.live, c.rttMs]) });
    throw new Error(`${err.message}\n${a}→${b} ${show(await pathTo(a, b))}\n${b}→${a} ${show(await pathTo(b, a))}`);
  });
}

test('easy–easy and easy–public pairs go direct', async () => {
  await waitPath('n1', 'n2', 'direct');
  await waitPath('n1', 'n3', 'direct');
  await waitPath('n2', 'n3', 'direct');
});

test('hard–hard pairs go through the relay', async () => {
  await waitPath('n4', 'n5', 'n3');
  // A hard NAT keeps no port: its node advertises no router:51820, which no peer could use.
  const n4 = (await pathTo('n1', 'n4'))!.candidates.filter((c) => !c.learned).map((c) => c.endpoint);
  expect(n4).not.toContain(`${lab.node('n4').underlay}:51820`);
});

test('each node classifies its own NAT from the lab\'s two STUN addresses; a hard-NAT node advertises no reflexive address', async () => {
  const nat = async (n: string) => (await lab.status(n)).paths?.nat;
  await waitFor('n2, n3, n4 and n5 classified', async () => (await Promise.all(['n2', 'n3', 'n4', 'n5'].map(nat))).every((x) => x !== undefined && x.type !== 'unknown'), 30_000, 250);
  expect([(await nat('n2'))!.type, (await nat('n3'))!.type, (await nat('n4'))!.type, (await nat('n5'))!.type]).toEqual(['easy', 'open', 'hard', 'hard']);
  const nodes = (await (await lab.adminFetch(ROUTES.adminNodes)).json()) as NodeView[];
  for (const h of ['n4', 'n5']) {
    expect((await nat(h))!.advertisesReflexive).toBe(false);
    // Its router's public address (what the STUN servers and relay saw, a port per destination) is nowhere in its report …
    const router = `${lab.node(h).underlay}:`;
    expect([h, nodes.find((n) => n.name === h)!.endpoints.filter((e) => e.startsWith(router))]).toEqual([h, []]);
    // … nor among the candidates its peers probe (a peer may still learn the mapping toward itself from h's pings).
    for (const p of NODES.filter((x) => x !== h)) {
      const advertised = (await pathTo(p, h))!.candidates.filter((c) => c.kind === 'direct' && !c.learned);
      expect([p, h, advertised.filter((c) => c.endpoint.startsWith(router)).map((c) => c.endpoint)]).toEqual([p, h, []]);
    }
  }
  // The easy NAT's mapping is one for every destination: advertised, and its pairs punched through.
  expect((await nat('n2'))!.advertisesReflexive).toBe(true);
  expect(nodes.find((n) => n.name === 'n2')!.endpoints).toContain(`${lab.node('n2').underlay}:51820`);
  const text = await lab.exec('n4', process.execPath, [lab.state.cliPath, 'status', '--socket', lab.node('n4').socket]);
  expect(text.stdout).toContain('\nnat         hard (a mapping per destination); reflexive addresses not advertised');
});

test('every pair can ping', async () => {
  await waitFor('every pair pings', async () => (await pingPairs(lab, NODES, NODES, 2)).length === 0, 60_000, 1000).catch(async (err: Error) => {
    throw new Error(`${err.message}: failing ${(await pingPairs(lab, NODES, NODES, 1)).join(', ')}`);
  });
});

test('malformed STUN responses: a clear error for each, and the reflexive address stays the good server\'s', async () => {
  // The agent asked every bad server from its WireGuard socket (the NAT mapped it to router:51820) …
  await waitFor('n1 asked the bad STUN servers', () => badStun.every((b) => b.from.has('198.18.0.11:51820')), 40_000, 200).catch((err: Error) => {
    throw new Error(`${err.message}: ${badStun.map((b) => [...b.from].join(' ')).join(' | ')}`);
  });
  // … and took nothing from them: its reflexive address is the one the controller's STUN service
  // saw, and that is all it reported.
  const nodes = (await (await lab.adminFetch(ROUTES.adminNodes)).json()) as NodeView[];
  expect({ reflexive: (await lab.status('n1')).paths!.reflexive, reported: nodes.find((n) => n.name === 'n1')!.endpoints }).toEqual({
    reflexive: ['198.18.0.11:51820'],
    reported: ['198.18.0.11:51820'],
  });
  // `trellis stun` names what is wrong with each answer and still classifies with the good one.
  const r = await lab.exec('n1', process.execPath, [lab.state.cliPath, 'stun', '198.18.0.1:3478', ...BAD_STUN.map((b) => `198.18.0.1:${b.port}`), '--timeout', '2s', '--json']);
  const j = JSON.parse(r.stdout) as { answers: Array<{ server: string; mapped: { address: string; port: number } | null; error: string | null }> };
  expect(j.answers[0]!.mapped?.address).toBe('198.18.0.11');
  for (const [i, b] of BAD_STUN.entries()) {
    expect([b.port, j.answers[i + 1]!.mapped]).toEqual([b.port, null]);
    expect(j.answers[i + 1]!.error).toContain(b.why);
  }
});

test('malformed endpoints reported with n1\'s own signature: 400 naming the bad entry, nothing stored or sent to peers', async () => {
  const n1 = lab.node('n1');
  const id = (await loadIdentity(n1.stateDir))!;
  const nodesNow = async () => (await (await lab.adminFetch(ROUTES.adminNodes)).json()) as NodeView[];
  const record = async () => {
    const n = (await nodesNow()).find((x) => x.name === 'n1')!;
    return { endpoints: n.endpoints, relay: n.relay };
  };
  const before = await record();
  const seenByN2 = async () => (await lab.status('n2')).paths!.peers.find((p) => p.peer === 'n1')!.candidates.filter((c) => !c.learned).map((c) => c.endpoint).sort();
  const candidatesBefore = await seenByN2();
  const cases: Array<[unknown, string]> = [
    [{ endpoints: ['not-an-endpoint'] }, 'endpoints'],
    [{ endpoints: ['198.18.0.11:0'] }, 'body.endpoints[0] "198.18.0.11:0" is not ip:port'],
    [{ endpoints: ['198.18.0.11:51820', '300.1.2.3:51820'] }, 'body.endpoints[1] "300.1.2.3:51820" is not ip:port'],
    [{ endpoints: ['[fd00::1:51820'] }, 'endpoints'],
    [{ endpoints: Array.from({ length: 17 }, (_, i) => `198.18.0.${100 + i}:51820`) }, 'endpoints'],
    [{ endpoints: ['198.18.0.11:51820'], relay: { port: 0 } }, 'relay'],
    [{ endpoints: ['198.18.0.11:51820'], relay: { port: 51821, proto: 'tcp' } }, 'relay'],
    [{ endpoints: '198.18.0.11:51820' }, 'endpoints'],
  ];
  for (const [body, message] of cases) {
    const text = JSON.stringify(body);
    const res = await lab.controllerFetch(ROUTES.endpoints, {
      method: 'POST',
      body: text,
      headers: { 'content-type': 'application/json', ...signRequest(ed25519PrivateKey(id.identity), id.nodeId!, 'POST', ROUTES.endpoints, text) },
    });
    const out = (await res.json()) as { error?: { code: string; message: string } };
    expect([text.slice(0, 60), res.status, out.error?.code]).toEqual([text.slice(0, 60), 400, 'TRELLIS_ERR_BAD_REQUEST']);
    expect(out.error!.message).toContain(message);
  }
  expect(await record()).toEqual(before);
  expect(await seenByN2()).toEqual(candidatesBefore);
  expect((await pathTo('n1', 'n2'))?.label).toBe('direct');
});

test('a relay flagged twice (`trellis up --relay --relay` on n3) stays one relay: same offer, no relay change recorded, pairs keep it', async () => {
  const relayChanges = async () => ((await (await lab.adminFetch(`${ROUTES.adminAudit}?type=node.relay&limit=1000`)).json()) as unknown[]).length;
  const changesBefore = await relayChanges();
  await lab.stopAgent('n3');
  lab.setAgentArgs('n3', ['--relay']); // the lab already passes --relay for n3
  await lab.startAgent('n3');
  await lab.waitForMesh(60_000, undefined, ['n3']);
  const nodes = (await (await lab.adminFetch(ROUTES.adminNodes)).json()) as NodeView[];
  expect(nodes.filter((n) => n.relay !== null).map((n) => [n.name, n.relay])).toEqual([['n3', { port: 51821 }]]);
  expect(await relayChanges()).toBe(changesBefore);
  // Every node still knows one relay, n3, and the hard pair goes through it again.
  for (const n of NODES.filter((x) => x !== 'n3')) expect([n, (await lab.status(n)).paths!.relays.map((r) => r.relay)]).toEqual([n, ['n3']]);
  await waitPath('n4', 'n5', 'n3');
  await waitFor('every pair pings', async () => (await pingPairs(lab, ['n4', 'n5'], NODES, 2)).length === 0, 60_000, 1000);
});
