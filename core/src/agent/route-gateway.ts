/**
 * RouteGateway: the host side of a node that advertises routes. It turns on IP forwarding in the
 * node's network namespace and, unless --snat-routes=false, masquerades traffic that arrives on the
 * WireGuard interface and leaves by another (so hosts on the LAN answer the gateway without a route
 * back to the overlay), in an nftables table of its own (`inet trellis_gateway`). Forwarded traffic
 * still passes the packet filter's forward chain (packet-filter/ruleset.ts), so the access policy
 * decides who reaches the subnet. stop removes the table and puts the forwarding sysctls back.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { errors } from '../errors';
import type { NftRunner } from './packet-filter';
import { defaultNftRunner } from './packet-filter';

export const GATEWAY_NFT_TABLE = 'trellis_gateway';

const FORWARDING = ['/proc/sys/net/ipv4/ip_forward', '/proc/sys/net/ipv6/conf/all/forwarding'] as const;

export interface SysctlAccess {
  read(path: string): Promise<string>;
  write(path: string, value: string): Promise<void>;
}

export const procSysctl: SysctlAccess = {
  read: async (path) => (await readFile(path, 'utf8')).trim(),
  write: (path, value) => writeFile(path, `${value}\n`),
};

export interface RouteGatewayOptions {
  iface: string;
  /** Masquerade forwarded traffic (default on). */
  snat: boolean;
  log: Logger;
  nft?: NftRunner;
  sysctl?: SysctlAccess;
}

/** gatewayRuleset is the nft script that (re)defines the gateway's NAT table. */
export function gatewayRuleset(iface: string, snat: boolean): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(iface)) throw errors.configInvalid('iface', `"${iface}" is not a valid interface name`);
  const lines = [`add table inet ${GATEWAY_NFT_TABLE}`, `delete table inet ${GATEWAY_NFT_TABLE}`, `table inet ${GATEWAY_NFT_TABLE} {`];
  lines.push('\tchain postrouting {', '\t\ttype nat hook postrouting priority srcnat; policy accept;');
  if (snat) lines.push(`\t\tiifname "${iface}" oifname != "${iface}" counter masquerade comment "trellis: routed traffic from the mesh"`);
  lines.push('\t}', '}');
  return lines.join('\n') + '\n';
}

export class RouteGateway {
  private saved: Array<[string, string]> = [];
  private active = false;
  private readonly nft: NftRunner;
  private readonly sysctl: SysctlAccess;

  constructor(private readonly o: RouteGatewayOptions) {
    this.nft = o.nft ?? defaultNftRunner;
    this.sysctl = o.sysctl ?? procSysctl;
  }

  get forwarding(): boolean {
    return this.active;
  }

  async start(): Promise<void> {
    if (this.active) return;
    for (const path of FORWARDING) {
      const before = await this.sysctl.read(path).catch(() => null);
      if (before === null) continue;
      if (before !== '1') {
        await this.sysctl.write(path, '1');
        this.saved.push([path, before]);
      }
    }
    await this.nft(gatewayRuleset(this.o.iface, this.o.snat));
    this.active = true;
    this.o.log.info({ snat: this.o.snat }, 'forwarding routed traffic');
  }

  async stop(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    await this.nft(`add table inet ${GATEWAY_NFT_TABLE}\ndelete table inet ${GATEWAY_NFT_TABLE}\n`).catch((err: unknown) =>
      this.o.log.warn({ err: (err as Error).message }, 'could not remove the gateway NAT table'),
    );
    for (const [path, value] of this.saved.reverse()) await this.sysctl.write(path, value).catch(() => undefined);
    this.saved = [];
  }
}
