/**
 * The NAT matrix on the lab (issue 11, test 3): n1 and n2 each behind an endpoint-independent
 * ("easy") NAT, n4 and n5 each behind a per-destination ("hard", --random-fully) NAT, n3 public
 * and the relay. Both ends of a pair ping all of each other's candidates at once through their
 * WireGuard sockets, so easy–easy and easy–public pairs punch through and go direct; hard–hard
 * pairs cannot and go through the relay; every pair can ping.
 */
import { Lab } from '../core/src/lab/lab';
import type { PeerPathStatus } from '../core/src/wire';
import { pingPairs } from './support/mesh';
import { waitFor } from './support/wait';

jest.setTimeout(300_000);

const NODES = ['n1', 'n2', 'n3', 'n4', 'n5'];
let lab: Lab;

beforeAll(async () => {
  lab = await Lab.up({ nodes: 5, nat: { n1: 'easy', n2: 'easy', n4: 'hard', n5: 'hard' }, relays: ['n3'] });
});

afterAll(async () => {
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
});

test('every pair can ping', async () => {
  await waitFor('every pair pings', async () => (await pingPairs(lab, NODES, NODES, 2)).length === 0, 60_000, 1000).catch(async (err: Error) => {
    throw new Error(`${err.message}: failing ${(await pingPairs(lab, NODES, NODES, 1)).join(', ')}`);
  });
});
