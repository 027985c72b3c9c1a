import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseClasses, parseFilters, parseQdiscs, parseRateKbit } from './tc-state';

const fx = (name: string) => readFileSync(join(__dirname, 'fixtures', 'office-applied', name), 'utf8');

describe('tc output parsers (fixtures recorded from iproute2 6.1 on this kernel)', () => {
  it('reads the HTB root qdisc and its default class from tc -j qdisc show', () => {
    const q = parseQdiscs(fx('qdisc.json'));
    expect(q.find((x) => x.parent === 'root')).toMatchObject({ kind: 'htb', handle: '1:', options: { default: '0x30' } });
    expect(q.some((x) => x.kind === 'ingress' && x.parent === 'ingress')).toBe(true);
  });

  it('reads HTB classes from the text that tc -j class show prints', () => {
    const { classes } = parseClasses(fx('class.txt'));
    expect(classes).toHaveLength(7);
    expect(classes.find((c) => c.classid === '1:1')).toEqual({ classid: '1:1', parent: 'root', rateKbit: 100000, ceilKbit: 100000, prio: null });
    expect(classes.find((c) => c.classid === '1:10')).toEqual({ classid: '1:10', parent: '1:1', rateKbit: 20000, ceilKbit: 50000, prio: 0 });
  });

  it('reads per-class counters from tc -j -s class show', () => {
    const { stats } = parseClasses(fx('class-stats.txt'));
    expect(stats.find((s) => s.classid === '1:10')).toEqual({ classid: '1:10', bytes: 294, packets: 3, drops: 0, overlimits: 0, backlogBytes: 0, backlogPackets: 0 });
  });

  it('keeps every u32 key although tc -j repeats the "match" key', () => {
    const filters = parseFilters(fx('filter.json'));
    expect(filters).toHaveLength(10);
    const udp = filters.find((f) => f.pref === 100 && f.keys.length === 2);
    expect(udp).toMatchObject({ flowid: '1:10', handle: '800::803', protocol: 'ip', kind: 'u32' });
    expect(udp?.keys).toEqual([
      { off: 8, mask: 0x00ff0000, value: 0x00110000 },
      { off: 20, mask: 0xfffe, value: 3478 },
    ]);
  });

  it('reads the mirred redirect of the ingress filter', () => {
    const [f] = parseFilters(fx('filter-ingress.json'));
    expect(f).toMatchObject({ parent: 'ffff:', pref: 1, redirectTo: 'ifb-trltR0', keys: [{ off: 0, mask: 0, value: 0 }] });
  });

  it('converts tc rate text to kbit', () => {
    expect(parseRateKbit('20Mbit')).toBe(20000);
    expect(parseRateKbit('1500Kbit')).toBe(1500);
    expect(parseRateKbit('800bit')).toBeCloseTo(0.8);
    expect(() => parseRateKbit('fast')).toThrow(/unknown rate "fast"/);
  });
});
