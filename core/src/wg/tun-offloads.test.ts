import { describeOffloads, parseEthtoolFeatures, parseVnetHdr, segmentationOffloadOn, type TunOffloads } from './tun-offloads';

/** The shape `ethtool --json -k` (ethtool 6.1) prints, cut to the features that matter here. */
const ethtool = (on: boolean, uso = on) =>
  JSON.stringify([
    {
      ifname: 'trlwg1',
      'rx-checksumming': { active: false, fixed: true, requested: false },
      'tx-checksumming': { active: on, fixed: null, requested: null },
      'tx-checksum-ip-generic': { active: on, fixed: false, requested: true },
      'tcp-segmentation-offload': { active: on, fixed: null, requested: null },
      'tx-tcp-segmentation': { active: on, fixed: false, requested: true },
      'tx-tcp6-segmentation': { active: on, fixed: false, requested: true },
      'tx-udp-segmentation': { active: uso, fixed: false, requested: true },
      'generic-segmentation-offload': { active: true, fixed: false, requested: true },
    },
  ]);

/** `ip -d -j link show` of a TUN, as iproute2 6.1 prints it (trimmed). */
const ipLink = (vnetHdr: boolean) =>
  JSON.stringify([
    {
      ifname: 'trlwg1',
      mtu: 1420,
      linkinfo: { info_kind: 'tun', info_data: { type: 'tun', pi: !vnetHdr, vnet_hdr: vnetHdr, multi_queue: false, persist: false } },
      gso_max_segs: 65535,
    },
  ]);

describe('TUN offloads', () => {
  it("reads the current build's TUN: vnet header, TSO on both families, USO and checksum", () => {
    const o: TunOffloads = { vnetHdr: parseVnetHdr(ipLink(true)), ...parseEthtoolFeatures(ethtool(true)) };
    expect(o).toEqual({ vnetHdr: true, txChecksum: true, tso4: true, tso6: true, uso: true });
    expect(segmentationOffloadOn(o)).toBe(true);
    expect(describeOffloads(o)).toBe('TSO, USO, checksum');
  });

  it("reads Debian's TUN: no vnet header, nothing offloaded", () => {
    const o: TunOffloads = { vnetHdr: parseVnetHdr(ipLink(false)), ...parseEthtoolFeatures(ethtool(false)) };
    expect(o).toEqual({ vnetHdr: false, txChecksum: false, tso4: false, tso6: false, uso: false });
    expect(segmentationOffloadOn(o)).toBe(false);
    expect(describeOffloads(o)).toBe('off');
  });

  it('keeps TSO without USO on kernels before 6.2', () => {
    const o: TunOffloads = { vnetHdr: true, ...parseEthtoolFeatures(ethtool(true, false)) };
    expect(segmentationOffloadOn(o)).toBe(true);
    expect(describeOffloads(o)).toBe('TSO, checksum');
  });

  it('says what it does not know: not a TUN, features without ethtool, nothing read', () => {
    expect(parseVnetHdr(JSON.stringify([{ ifname: 'eth0', linkinfo: { info_kind: 'veth' } }]))).toBeNull();
    expect(parseVnetHdr('')).toBeNull();
    expect(parseEthtoolFeatures('[{"ifname":"x"}]')).toEqual({ txChecksum: null, tso4: null, tso6: null, uso: null });
    const noEthtool: TunOffloads = { vnetHdr: true, txChecksum: null, tso4: null, tso6: null, uso: null };
    expect(segmentationOffloadOn(noEthtool)).toBe(false);
    expect(describeOffloads(noEthtool)).toBe('vnet_hdr (features unknown: ethtool missing)');
    expect(describeOffloads(null)).toBe('unknown');
    expect(segmentationOffloadOn(null)).toBe(false);
  });
});
