import type { Logger } from 'pino';
import type { NetworkMap } from '../../netmap/types';
import { run } from '../../sys/run';
import { removeScript, renderRuleset } from './ruleset';

/** NftRunner feeds an nft script to `nft -f -`; swapped for a namespace-bound one in tests. */
export type NftRunner = (script: string) => Promise<void>;

export interface PacketFilterOptions {
  iface: string;
  /** The agent's probe UDP port: current peers may always reach it. */
  probePort: number;
  log: Logger;
  /** Default: `nft -f -` in the agent's own namespace. */
  nft?: NftRunner;
}

export type PacketFilterResult = 'applied' | 'removed' | 'unchanged';

export const defaultNftRunner: NftRunner = async (script) => {
  await run('nft', ['-f', '-'], { input: script, timeoutMs: 10_000 });
};

/**
 * PacketFilter enforces map.packetFilter on inbound mesh traffic with nftables. A null filter
 * means no table (accept all, the foundation default); a list, even an empty one, means default
 * drop with one accept per rule. The whole table is replaced in one nft transaction, and only
 * when the rendered ruleset changed, so established connections never see a gap.
 */
export class PacketFilter {
  private current: string | null = null;
  private installed = false;
  /** False until the first apply: a table left by a crashed agent must not survive a null filter. */
  private known = false;
  private nft: NftRunner;

  constructor(private readonly opts: PacketFilterOptions) {
    this.nft = opts.nft ?? defaultNftRunner;
  }

  /** The ruleset now in force, or null when no table is installed. */
  get ruleset(): string | null {
    return this.installed ? this.current : null;
  }

  /**
   * apply brings the table in line with map. A malformed filter or a failing nft rejects and
   * leaves the previous table in force.
   */
  async apply(map: NetworkMap): Promise<PacketFilterResult> {
    if (map.packetFilter === null || map.packetFilter === undefined) {
      if (this.known && !this.installed) return 'unchanged';
      await this.nft(removeScript());
      const had = this.installed;
      this.installed = false;
      this.current = null;
      this.known = true;
      if (!had) return 'unchanged';
      this.opts.log.info({ iface: this.opts.iface }, 'packet filter removed: the map carries none, all mesh traffic is accepted');
      return 'removed';
    }
    const self = map.self.id;
    const script = renderRuleset({
      iface: this.opts.iface,
      rules: map.packetFilter,
      probe: {
        port: this.opts.probePort,
        peerIps: map.peers.filter((p) => p.id !== self).map((p) => p.addresses.ipv4),
      },
      transit: map.self.hub === true,
    });
    if (this.installed && script === this.current) return 'unchanged';
    await this.nft(script);
    this.current = script;
    this.installed = true;
    this.known = true;
    this.opts.log.info({ iface: this.opts.iface, rules: map.packetFilter.length }, 'packet filter applied');
    return 'applied';
  }

  /** stop removes the table; the interface goes away with the agent anyway. Idempotent. */
  async stop(): Promise<void> {
    if (!this.installed) return;
    await this.nft(removeScript());
    this.installed = false;
    this.current = null;
  }
}
