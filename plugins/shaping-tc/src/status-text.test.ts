import { renderShapingSection } from './status-text';
import type { ShapingStatus } from './tc-apply';

const NOW = 1_700_000_000_000;
const cls = (direction: 'egress' | 'ingress', label: string, rateKbit: number, ceilKbit: number, prio: number | null, bytes: number, drops = 0) => ({
  direction,
  dev: direction === 'egress' ? 'trlwg1' : 'ifb-trlwg1',
  classid: '1:x',
  label,
  rateKbit,
  ceilKbit,
  prio,
  bytes,
  packets: Math.round(bytes / 1400),
  drops,
  overlimits: 7,
  backlogBytes: 2840,
  backlogPackets: 2,
});

const shaped: ShapingStatus = {
  profile: 'uplink',
  iface: 'trlwg1',
  ifb: 'ifb-trlwg1',
  leaf: null,
  sampledAt: NOW,
  classes: [cls('egress', 'link', 42000, 42000, null, 3 * 1024 * 1024), cls('egress', 'realtime', 4000, 42000, 0, 25200), cls('ingress', 'bulk', 20000, 42000, 3, 1400, 1)],
};

describe('renderShapingSection', () => {
  it('shows the profile and each class with its rate, ceiling and what it carried', () => {
    const out = renderShapingSection(shaped);
    expect(out.split('\n')).toEqual([
      '',
      'shaping     profile uplink on trlwg1, ingress via ifb-trlwg1',
      'DIR      CLASS     RATE    CEIL    PRIO  SENT      PKTS  DROPS  OVERLIMITS  BACKLOG',
      'egress   link      42Mbit  42Mbit  -     3.00 MiB  2247  0      7           2.77 KiB / 2p',
      'egress   realtime  4Mbit   42Mbit  0     24.6 KiB  18    0      7           2.77 KiB / 2p',
      'ingress  bulk      20Mbit  42Mbit  3     1.37 KiB  1     1      7           2.77 KiB / 2p',
      '',
    ]);
  });

  it('is empty when the node is not shaped', () => {
    expect(renderShapingSection(null)).toBe('');
  });
});
