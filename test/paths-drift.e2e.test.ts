/**
 * Endpoint drift on the lab (issue 11 follow-up): WireGuard moves a peer's endpoint to wherever an
 * authenticated datagram last came from, so a late datagram over a path just left (a relay still
 * carrying the old session) can leave a pair's traffic on the relay while `trellis paths` says
 * direct. Here the device's endpoint is moved to relay n3 behind the agent's back (`wg set`), on
 * each end of a direct pair in turn; the agent must see that the device no longer holds the chosen
 * path, write the chosen endpoint back within a few seconds without a path switch, count it, and
 * the pair's traffic must flow direct again.
 */
import { Lab } from '../core/src/lab/lab';
import { DEFAULT_RELAY_PORT } from '../core/src/agent/start-options';
import type { PeerPathStatus } from '../core/src/wire';
import { ping } from './support/mesh';
import { waitFor } from './support/wait';

jest.setTimeout(180_000);

let lab: Lab;

beforeAll(async () => {
  lab = await Lab.up({ nodes: 3, relays: ['n3'] });
});

afterAll(async () => {
  await lab?.down();
});

async function pathTo(node: string, peer: string): Promise<PeerPathStatus | undefined> {
  return (await lab.status(node)).paths?.peers.find((p) => p.peer === peer);
}

/** deviceEndpoint reads the peer's endpoint from the node's WireGuard device (`wg show <iface> endpoints`). */
async function deviceEndpoint(node: string, peerKey: string): Promise<string | null> {
  const r = await lab.exec(node, 'wg', ['show', lab.node(node).iface, 'endpoints']);
  if (r.code !== 0) throw new Error(`wg show failed on ${node}: ${r.stderr}`);
  for (const line of r.stdout.split('\n')) {
    const [key, ep] = line.trim().split('\t');
    if (key === peerKey) return ep === '(none)' ? null : ep ?? null;
  }
  return null;
}

test('n1–n2 go direct on both ends', async () => {
  // Chosen, not only labelled: a pair with no path chosen yet is labelled direct too.
  const chosenDirect = async (a: string, b: string) => {
    const p = await pathTo(a, b);
    return p?.label === 'direct' && p.active?.startsWith('direct:') === true && p.endpoint !== null;
  };
  await waitFor('n1–n2 direct on both ends', async () => (await chosenDirect('n1', 'n2')) && (await chosenDirect('n2', 'n1')), 45_000, 250);
});

test("both ends' device endpoints moved onto relay n3 behind the agents' backs are written back to the direct path within a few seconds", async () => {
  const relay = `${lab.node('n3').underlay}:${DEFAULT_RELAY_PORT}`;
  const key = { n1: (await lab.status('n1')).node.wgKey, n2: (await lab.status('n2')).node.wgKey };
  const direct = { n1: `${lab.node('n2').underlay}:51820`, n2: `${lab.node('n1').underlay}:51820` };
  const other = { n1: 'n2', n2: 'n1' } as const;
  const before = { n1: (await pathTo('n1', 'n2'))!, n2: (await pathTo('n2', 'n1'))! };
  for (const n of ['n1', 'n2'] as const) {
    expect([before[n].label, before[n].endpoint]).toEqual(['direct', direct[n]]);
    expect(await deviceEndpoint(n, key[other[n]])).toBe(direct[n]);
  }
  const decider = before.n1.role === 'decides' ? 'n1' : 'n2';

  // Both ends on the relay, which never saw this session's handshake: nothing the peer sends
  // reaches a device directly any more, so WireGuard's roaming cannot undo it; only the agents
  // can. (One end alone would roam back on the peer's next direct datagram.) Tried again if a
  // datagram in flight moved an end back between the two writes.
  const onRelay = async () => (await deviceEndpoint('n1', key.n2)) === relay && (await deviceEndpoint('n2', key.n1)) === relay;
  let movedAt = 0;
  for (let i = 0; i < 5 && !(await onRelay()); i++) {
    for (const n of ['n1', 'n2'] as const) {
      const set = await lab.exec(n, 'wg', ['set', lab.node(n).iface, 'peer', key[other[n]], 'endpoint', relay]);
      expect(set.code).toBe(0);
    }
    movedAt = Date.now();
  }
  expect(await onRelay()).toBe(true);

  await waitFor('both device endpoints back on the direct path', async () => (await deviceEndpoint('n1', key.n2)) === direct.n1 && (await deviceEndpoint('n2', key.n1)) === direct.n2, 15_000, 100);
  // One drift check to see it and one to confirm, 1 s apart, on the deciding end.
  expect(Date.now() - movedAt).toBeLessThanOrEqual(6_000);

  const after = { n1: (await pathTo('n1', 'n2'))!, n2: (await pathTo('n2', 'n1'))! };
  expect(after[decider].endpointReasserts).toBeGreaterThanOrEqual((before[decider].endpointReasserts ?? 0) + 1);
  for (const n of ['n1', 'n2'] as const) {
    // Written back, not switched: the path choice never moved.
    expect([n, after[n].label, after[n].active, after[n].switches]).toEqual([n, before[n].label, before[n].active, before[n].switches]);
  }
  await waitFor(`${decider} reports the device endpoint ${direct[decider]}`, async () => (await pathTo(decider, other[decider]))?.deviceEndpoint === direct[decider], 5_000, 200);

  // Traffic flows over the direct path on both ends again.
  await waitFor('n1 pings n2', () => ping(lab, 'n1', lab.node('n2').addresses!.ipv4, 1), 10_000, 100);
  await waitFor('n2 pings n1', () => ping(lab, 'n2', lab.node('n1').addresses!.ipv4, 1), 10_000, 100);
  expect([await deviceEndpoint('n1', key.n2), await deviceEndpoint('n2', key.n1)]).toEqual([direct.n1, direct.n2]);

  // `trellis paths` on the deciding end says so.
  const r = await lab.exec(decider, process.execPath, [lab.state.cliPath, 'paths', '--socket', lab.node(decider).socket]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(new RegExp(`${other[decider]}: direct .*\\n(?:.*\\n)*? {2}endpoint written back \\d+× \\(the device had roamed onto another path\\)`));
});
