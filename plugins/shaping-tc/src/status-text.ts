/** shaping-tc's part of `trellis status`: the profile in force and what each class carried. */
import { formatBytes, renderTable } from '@trellis/core/api';
import type { ShapingStatus } from './tc-apply';

const formatKbit = (k: number) => (k >= 1000 ? `${Math.round(k / 100) / 10}Mbit` : `${k}kbit`);

/** renderShapingSection shows the classes in force and what each carries; empty when the node is not shaped. */
export function renderShapingSection(sh: ShapingStatus | null, indent = ''): string {
  if (!sh) return '';
  const rows = sh.classes.map((c) => [
    c.direction,
    c.label,
    formatKbit(c.rateKbit),
    formatKbit(c.ceilKbit),
    c.prio === null ? '-' : String(c.prio),
    formatBytes(c.bytes),
    String(c.packets),
    String(c.drops),
    String(c.overlimits),
    `${formatBytes(c.backlogBytes)} / ${c.backlogPackets}p`,
  ]);
  const head = `\n${indent}shaping     profile ${sh.profile} on ${sh.iface}${sh.ifb ? `, ingress via ${sh.ifb}` : ''}\n`;
  return head + renderTable(['DIR', 'CLASS', 'RATE', 'CEIL', 'PRIO', 'SENT', 'PKTS', 'DROPS', 'OVERLIMITS', 'BACKLOG'], rows, indent);
}
