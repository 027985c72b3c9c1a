/**
 * HubForwarding: the host side of a topology hub. While the node's map says it is a hub
 * (self.hub), spokes send it traffic for other spokes: it turns on IP forwarding in its network
 * namespace and stops ICMP redirects on the WireGuard interface (the next hop is another peer of
 * the same interface, which a redirect cannot name). The packet filter's forward chain accepts
 * WireGuard-to-WireGuard traffic on a hub (packet-filter/ruleset.ts); the destination's own filter
 * still decides what it accepts. When the node stops being a hub, the sysctls go back.
 */
import type { Logger } from 'pino';
import type { NetworkMap } from '../netmap/types';
import { procSysctl, type SysctlAccess } from './route-gateway';

export class HubForwarding {
  private saved: Array<[string, string]> = [];
  private active = false;
  private readonly sysctl: SysctlAccess;

  constructor(
    private readonly o: { iface: string; log: Logger; sysctl?: SysctlAccess },
  ) {
    this.sysctl = o.sysctl ?? procSysctl;
  }

  /** True while the node forwards as a hub. */
  get forwarding(): boolean {
    return this.active;
  }

  private paths(): Array<[string, string]> {
    return [
      ['/proc/sys/net/ipv4/ip_forward', '1'],
      ['/proc/sys/net/ipv6/conf/all/forwarding', '1'],
      ['/proc/sys/net/ipv4/conf/all/send_redirects', '0'],
      [`/proc/sys/net/ipv4/conf/${this.o.iface}/send_redirects`, '0'],
    ];
  }

  /** apply turns forwarding on when the map makes this node a hub, and back off when it no longer does. */
  async apply(map: NetworkMap): Promise<void> {
    const hub = map.self.hub === true;
    if (hub === this.active) return;
    if (hub) {
      for (const [path, value] of this.paths()) {
        const before = await this.sysctl.read(path).catch(() => null);
        if (before === null || before === value) continue;
        await this.sysctl.write(path, value);
        this.saved.push([path, before]);
      }
      this.active = true;
      this.o.log.info({ iface: this.o.iface }, 'topology hub: forwarding between spokes');
    } else {
      await this.stop();
    }
  }

  /** stop puts the sysctls back. Idempotent. */
  async stop(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    for (const [path, value] of this.saved.reverse()) await this.sysctl.write(path, value).catch(() => undefined);
    this.saved = [];
    this.o.log.info({ iface: this.o.iface }, 'no longer a topology hub: forwarding settings restored');
  }
}
