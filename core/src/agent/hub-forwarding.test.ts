import pino from 'pino';
import type { NetworkMap } from '../netmap/types';
import { HubForwarding } from './hub-forwarding';

/** A fake /proc/sys: the boundary HubForwarding writes. */
function fakeSysctl(initial: Record<string, string>) {
  const values = new Map(Object.entries(initial));
  const writes: Array<[string, string]> = [];
  return {
    values,
    writes,
    read: async (p: string) => {
      const v = values.get(p);
      if (v === undefined) throw new Error(`no ${p}`);
      return v;
    },
    write: async (p: string, v: string) => {
      writes.push([p, v]);
      values.set(p, v);
    },
  };
}

const mapWith = (hub: boolean) => ({ self: { hub } }) as unknown as NetworkMap;

describe('HubForwarding', () => {
  it('turns forwarding on while the map makes the node a hub and puts the sysctls back after', async () => {
    const sys = fakeSysctl({
      '/proc/sys/net/ipv4/ip_forward': '0',
      '/proc/sys/net/ipv6/conf/all/forwarding': '1',
      '/proc/sys/net/ipv4/conf/all/send_redirects': '1',
      '/proc/sys/net/ipv4/conf/wg0/send_redirects': '1',
    });
    const h = new HubForwarding({ iface: 'wg0', log: pino({ level: 'silent' }), sysctl: sys });
    await h.apply(mapWith(false));
    expect(sys.writes).toEqual([]);
    await h.apply(mapWith(true));
    expect(h.forwarding).toBe(true);
    expect(sys.values.get('/proc/sys/net/ipv4/ip_forward')).toBe('1');
    expect(sys.values.get('/proc/sys/net/ipv4/conf/wg0/send_redirects')).toBe('0');
    // Already 1: not written, and not restored either.
    expect(sys.writes.map(([p]) => p)).not.toContain('/proc/sys/net/ipv6/conf/all/forwarding');
    await h.apply(mapWith(true));
    expect(sys.writes).toHaveLength(3);
    await h.apply(mapWith(false));
    expect(h.forwarding).toBe(false);
    expect(Object.fromEntries(sys.values)).toEqual({
      '/proc/sys/net/ipv4/ip_forward': '0',
      '/proc/sys/net/ipv6/conf/all/forwarding': '1',
      '/proc/sys/net/ipv4/conf/all/send_redirects': '1',
      '/proc/sys/net/ipv4/conf/wg0/send_redirects': '1',
    });
  });
});
