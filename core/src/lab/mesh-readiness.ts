/**
 * waitForMesh is how the lab knows a mesh has formed: each waited-for agent holds a map with every
 * other lab node as a peer. It asks the agents themselves, not the controller, because a map the
 * controller sent is not yet a map an agent applied.
 */
import { AgentClient } from '../client/agent-client';
import { errors } from '../errors';
import type { AgentStatus } from '../wire';
import { isAlive, sleep } from './process-group';
import type { LabNodeState } from './lab-state';

export interface MeshWait {
  /** Every lab node: a ready node sees all but itself. */
  nodes: LabNodeState[];
  /** The nodes to wait for. */
  names: string[];
  timeoutMs: number;
  /** Hears each node as it gets there. */
  onReady?: (name: string, status: AgentStatus) => void;
  /** A ready node's addresses were noted in its state: persist them. */
  save: () => void;
  /**
   * The peers each node should hold (a topology other than the full mesh: the controller's count),
   * or null while the controller does not know every node yet; absent: every other lab node.
   */
  expected?: () => Promise<ReadonlyMap<string, number> | null>;
}

export async function waitForMesh(w: MeshWait): Promise<void> {
  const want = w.nodes.length - 1;
  const pending = new Set(w.names);
  const last = new Map<string, string>();
  const deadline = Date.now() + w.timeoutMs;
  const nodeState = (name: string) => {
    const n = w.nodes.find((x) => x.name === name);
    if (!n) throw errors.lab(`no node "${name}" in the lab (nodes: ${w.nodes.map((x) => x.name).join(', ') || 'none'})`);
    return n;
  };
  while (pending.size > 0) {
    const counts = w.expected ? await w.expected().catch(() => null) : null;
    for (const name of [...pending]) {
      const n = nodeState(name);
      if (!isAlive(n.pid)) throw errors.lab(`agent ${name} exited before it got its map; see ${n.log}`);
      try {
        const s = await new AgentClient(n.socket).status(2000);
        last.set(name, `map ${s.map.source} v${s.map.version}, ${s.peers.length} peers`);
        const ready = w.expected ? counts !== null && counts.get(name) === s.peers.length : s.peers.length >= want;
        if (s.map.source !== 'none' && ready) {
          pending.delete(name);
          if (s.node.addresses) n.addresses = { ...s.node.addresses };
          w.save();
          w.onReady?.(name, s);
        }
      } catch (err) {
        last.set(name, (err as Error).message);
      }
    }
    if (pending.size === 0) break;
    if (Date.now() > deadline) {
      const first = [...pending][0]!;
      throw errors.lab(
        `node ${first} did not get its map with ${w.expected ? 'the peers its topology gives it' : `${want} peers`} within ${Math.round(w.timeoutMs / 1000)}s ` +
          `(last: ${last.get(first) ?? 'no answer'}); see ${nodeState(first).log}`,
      );
    }
    await sleep(200);
  }
}
