/**
 * TunOffloads are the segmentation offloads in force on a wireguard-go TUN interface. Current
 * wireguard-go opens the TUN with a virtio-net header and turns on TSO (and USO on Linux >= 6.2),
 * so the kernel hands it 64 KB super-packets and it encrypts them in batches; Debian's 2022 build
 * does neither and moves a fifth of the bytes per CPU second. Read with iproute2 (`ip -d -j link`,
 * the TUN's vnet_hdr flag) and ethtool (`ethtool --json -k`, the features the kernel has active).
 */
import { errors } from '../errors';
import { run, tryRun, type RunOptions } from '../sys/run';
import type { TunOffloads } from './types';

export type { TunOffloads };

interface IpLinkDetails {
  linkinfo?: { info_kind?: string; info_data?: { vnet_hdr?: boolean } };
}

type EthtoolFeature = { active?: boolean } | undefined;

/** parseVnetHdr reads the vnet_hdr flag from `ip -d -j link show dev <tun>`; null when not a TUN. */
export function parseVnetHdr(ipJson: string): boolean | null {
  const link = (JSON.parse(ipJson || '[]') as IpLinkDetails[])[0];
  const data = link?.linkinfo?.info_kind === 'tun' ? link.linkinfo.info_data : undefined;
  return typeof data?.vnet_hdr === 'boolean' ? data.vnet_hdr : null;
}

/** parseEthtoolFeatures picks the offloads Trellis cares about from `ethtool --json -k <iface>`. */
export function parseEthtoolFeatures(ethtoolJson: string): Pick<TunOffloads, 'txChecksum' | 'tso4' | 'tso6' | 'uso'> {
  const f = (JSON.parse(ethtoolJson) as Array<Record<string, EthtoolFeature>>)[0] ?? {};
  const active = (name: string): boolean | null => (typeof f[name]?.active === 'boolean' ? (f[name]!.active as boolean) : null);
  return {
    txChecksum: active('tx-checksumming'),
    tso4: active('tx-tcp-segmentation'),
    tso6: active('tx-tcp6-segmentation'),
    uso: active('tx-udp-segmentation'),
  };
}

/**
 * readTunOffloads reads the interface's offloads. The link must exist; a missing ethtool leaves
 * the feature fields null rather than failing, since the offloads are reported, not required.
 */
export async function readTunOffloads(iface: string, opts: RunOptions = {}): Promise<TunOffloads> {
  const ip = await tryRun('ip', ['-d', '-j', 'link', 'show', 'dev', iface], opts);
  if (ip === null) throw errors.device(iface, 'interface not found; cannot read its offloads');
  const vnetHdr = parseVnetHdr(ip);
  let features: Pick<TunOffloads, 'txChecksum' | 'tso4' | 'tso6' | 'uso'> = { txChecksum: null, tso4: null, tso6: null, uso: null };
  try {
    features = parseEthtoolFeatures(await run('ethtool', ['--json', '-k', iface], { ...opts, timeoutMs: 5_000 }));
  } catch {
    // ethtool not installed (setup installs it) or too old for --json: features stay unknown.
  }
  return { vnetHdr, ...features };
}

/** segmentationOffloadOn says whether super-packets reach the device whole: vnet header and TSO on both families. */
export function segmentationOffloadOn(o: TunOffloads | null): boolean {
  return !!o && o.vnetHdr === true && o.tso4 === true && o.tso6 === true;
}

/** describeOffloads is the short human form: "TSO, USO, checksum (vnet_hdr)" or "off". */
export function describeOffloads(o: TunOffloads | null): string {
  if (!o) return 'unknown';
  const on = [o.tso4 && o.tso6 ? 'TSO' : o.tso4 ? 'TSO4' : o.tso6 ? 'TSO6' : null, o.uso ? 'USO' : null, o.txChecksum ? 'checksum' : null].filter(
    (x): x is string => x !== null,
  );
  if (o.tso4 === null && o.uso === null && o.txChecksum === null) return o.vnetHdr ? 'vnet_hdr (features unknown: ethtool missing)' : 'off';
  return on.length === 0 ? 'off' : on.join(', ');
}
