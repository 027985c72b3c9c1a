/**
 * Shared helpers for end-to-end tests on the lab: pinging across the overlay and reading peers.
 */
import type { Lab } from '../../core/src/lab/lab';

/** ping sends one ICMP echo from one lab node to an address and reports whether it came back. */
export async function ping(lab: Lab, from: string, address: string, timeoutS = 2): Promise<boolean> {
  const r = await lab.exec(from, 'ping', ['-c', '1', '-W', String(timeoutS), address], { timeoutMs: (timeoutS + 3) * 1000 });
  return r.code === 0;
}

/** pingPairs pings every ordered pair (from ≠ to) and returns the pairs that failed, e.g. "n1→n3". */
export async function pingPairs(lab: Lab, froms: string[], tos: string[], tries = 3): Promise<string[]> {
  const failed: string[] = [];
  await Promise.all(
    froms.map(async (from) => {
      for (const to of tos) {
        if (from === to) continue;
        const addr = lab.node(to).addresses?.ipv4;
        if (!addr) {
          failed.push(`${from}→${to} (no overlay address)`);
          continue;
        }
        let ok = false;
        for (let i = 0; i < tries && !ok; i++) ok = await ping(lab, from, addr);
        if (!ok) failed.push(`${from}→${to}`);
      }
    }),
  );
  return failed.sort();
}

/** peerNames lists the peers a node's agent currently has. */
export async function peerNames(lab: Lab, node: string): Promise<string[]> {
  return (await lab.status(node)).peers.map((p) => p.name).sort();
}
