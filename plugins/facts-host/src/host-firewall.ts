/**
 * Host firewall: what nftables holds, from `nft -j list ruleset`. Trellis's own `inet trellis`
 * table filters only mesh traffic, so it never counts as the host's firewall.
 */
import { execFile } from 'node:child_process';

export interface FirewallFacts {
  /** An nftables ruleset (other than Trellis's table) is loaded. */
  enabled: boolean;
  /** Rules in input-hook chains. */
  ruleCount: number;
  /** The input chains' policy: drop when any input chain drops by default. */
  inputPolicy: 'accept' | 'drop';
  tables: number;
}

type NftObject = Record<string, Record<string, unknown>>;

function isTrellis(o: Record<string, unknown>): boolean {
  return o.family === 'inet' && o.table === 'trellis';
}

/** firewallFromNftJson reads the facts out of `nft -j list ruleset` output. */
export function firewallFromNftJson(json: unknown): FirewallFacts {
  const items = ((json as { nftables?: unknown })?.nftables ?? []) as NftObject[];
  if (!Array.isArray(items)) return { enabled: false, ruleCount: 0, inputPolicy: 'accept', tables: 0 };
  let tables = 0;
  const inputChains = new Set<string>();
  let inputPolicy: 'accept' | 'drop' = 'accept';
  for (const item of items) {
    if (item.table && !(item.table.family === 'inet' && item.table.name === 'trellis')) tables++;
    const c = item.chain;
    if (c && c.hook === 'input' && !(c.family === 'inet' && c.table === 'trellis')) {
      inputChains.add(`${String(c.family)} ${String(c.table)} ${String(c.name)}`);
      if (c.policy === 'drop') inputPolicy = 'drop';
    }
  }
  let ruleCount = 0;
  for (const item of items) {
    const r = item.rule;
    if (r && !isTrellis(r) && inputChains.has(`${String(r.family)} ${String(r.table)} ${String(r.chain)}`)) ruleCount++;
  }
  return { enabled: tables > 0, ruleCount, inputPolicy, tables };
}

/** collectFirewallFacts runs nft; null when nft is missing or refuses (the fact is then not reported). */
export function collectFirewallFacts(nft = 'nft'): Promise<FirewallFacts | null> {
  return new Promise((resolve) => {
    execFile(nft, ['-j', 'list', 'ruleset'], { timeout: 5000, maxBuffer: 32 * 1024 * 1024 }, (err, stdout) => {
      if (err) return resolve(null);
      try {
        resolve(firewallFromNftJson(String(stdout).trim() === '' ? {} : JSON.parse(String(stdout))));
      } catch {
        resolve(null);
      }
    });
  });
}
