import fc from 'fast-check';
import { applyMapResponse } from './delta';
import { applyFilterPatch, diffFilters, FilterPatchMismatch } from './filter-patch';
import { compareFilters } from './filter-order';
import type { FilterRule, NetworkMapData } from './types';

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const sortedUnique = (xs: string[]) => [...new Set(xs)].sort(byString);

const ip = fc.oneof(
  fc.tuple(fc.nat(3), fc.nat(255)).map(([a, b]) => `100.64.${a}.${b}`),
  fc.nat(0xfff).map((x) => `fd7a:7e11:5000::${x.toString(16)}`),
  fc.constantFrom('10.0.0.0/8', '192.168.0.0/16'),
);
const ruleKey = fc.record({
  dstIps: fc.array(ip, { maxLength: 2 }).map(sortedUnique),
  proto: fc.constantFrom<FilterRule['proto']>('tcp', 'udp', 'icmp', 'any'),
  dstPorts: fc.constantFrom<Array<[number, number]>>([], [[22, 22]], [[80, 443]]),
});

/** A filter as the controller makes it: entries sorted (compareFilters) and de-duplicated, srcIps sorted and unique. */
function normalize(rules: FilterRule[]): FilterRule[] {
  const out = rules.map((r) => ({ ...r, srcIps: sortedUnique(r.srcIps) })).filter((r) => r.srcIps.length > 0);
  out.sort(compareFilters);
  return out.filter((r, i) => i === 0 || compareFilters(out[i - 1]!, r) !== 0);
}

/** Two filters over the same entry keys whose srcIps differ (some addresses joined, some left). */
const pair = fc
  .array(fc.record({ key: ruleKey, before: fc.array(ip, { minLength: 1, maxLength: 12 }), after: fc.array(ip, { minLength: 1, maxLength: 12 }), keepSome: fc.boolean() }), { minLength: 1, maxLength: 6 })
  .map((entries) => ({
    prev: normalize(entries.map((e) => ({ ...e.key, srcIps: e.before }))),
    next: normalize(entries.map((e) => ({ ...e.key, srcIps: e.keepSome ? [...e.before.slice(1), ...e.after.slice(0, 2)] : e.after }))),
  }));

describe('packet filter patches', () => {
  it('turn the old filter into the new one whenever diffFilters gives one', () => {
    let patched = 0;
    fc.assert(
      fc.property(pair, ({ prev, next }) => {
        const patch = diffFilters(prev, next);
        if (!patch) return;
        patched++;
        expect(applyFilterPatch(prev, patch)).toEqual(next);
        // Through the wire: JSON both ways, as the agent gets it.
        expect(applyFilterPatch(prev, JSON.parse(JSON.stringify(patch)))).toEqual(next);
      }),
      { numRuns: 500 },
    );
    expect(patched).toBeGreaterThan(50);
  });

  it('patch only when entries keep their places and keys, and only when smaller than the filter', () => {
    const rule = (srcIps: string[], dstPorts: Array<[number, number]> = []): FilterRule => ({ srcIps, dstIps: ['100.64.0.1'], proto: 'tcp', dstPorts });
    const big = Array.from({ length: 20 }, (_, i) => `100.64.1.${i + 10}`).sort(byString);
    // An address joins one entry.
    const joined = sortedUnique([...big, '100.64.1.9']);
    expect(diffFilters([rule(big)], [rule(joined)])).toEqual({ entries: 1, changes: [{ at: 0, add: ['100.64.1.9'], remove: [] }] });
    // An entry came: the whole filter travels.
    expect(diffFilters([rule(big)], [rule(big), rule(big, [[22, 22]])])).toBeNull();
    // Another key at the same place.
    expect(diffFilters([rule(big)], [rule(joined, [[22, 22]])])).toBeNull();
    // Every address replaced: as large as the filter.
    expect(diffFilters([rule(['100.64.0.2'])], [rule(['100.64.0.3'])])).toBeNull();
    // null filters, no change.
    expect(diffFilters(null, [rule(big)])).toBeNull();
    expect(diffFilters([rule(big)], null)).toBeNull();
    expect(diffFilters([rule(big)], [rule([...big])])).toBeNull();
  });

  it('refuse a patch that does not fit the local filter, and a malformed one', () => {
    const f: FilterRule[] = [{ srcIps: ['100.64.0.2', '100.64.0.3'], dstIps: ['100.64.0.1'], proto: 'any', dstPorts: [] }];
    expect(() => applyFilterPatch(f, { entries: 2, changes: [] })).toThrow(FilterPatchMismatch);
    expect(() => applyFilterPatch(null, { entries: 1, changes: [] })).toThrow(FilterPatchMismatch);
    expect(() => applyFilterPatch(f, { entries: 1, changes: [{ at: 0, add: ['100.64.0.2'], remove: [] }] })).toThrow(/already holds 100.64.0.2/);
    expect(() => applyFilterPatch(f, { entries: 1, changes: [{ at: 0, add: [], remove: ['100.64.0.9'] }] })).toThrow(/does not hold 100.64.0.9/);
    expect(() => applyFilterPatch(f, { entries: 1, changes: [{ at: 0, add: [], remove: ['100.64.0.1'] }] })).toThrow(/does not hold 100.64.0.1/);
    expect(() => applyFilterPatch(f, { entries: 1, changes: [{ at: 1, add: ['1.1.1.1'], remove: [] }] })).toThrow(/past the end/);
    expect(() => applyFilterPatch(f, { entries: 1, changes: [{ at: 0, add: ['b', 'a'], remove: [] }] })).toThrow(TypeError);
    expect(() => applyFilterPatch(f, { entries: 1 } as never)).toThrow(/changes is not a list/);
    expect(() => applyFilterPatch(f, { entries: 1, changes: [{ at: 0, add: [1], remove: [] }] } as never)).toThrow(TypeError);
    // The input is never changed.
    expect(applyFilterPatch(f, { entries: 1, changes: [{ at: 0, add: ['100.64.0.4'], remove: ['100.64.0.2'] }] })).toEqual([{ ...f[0], srcIps: ['100.64.0.3', '100.64.0.4'] }]);
    expect(f[0]!.srcIps).toEqual(['100.64.0.2', '100.64.0.3']);
  });

  it('are applied by applyMapResponse, and a patch that does not fit asks for a full map', () => {
    const self = { id: 's', name: 's', wgKey: 'k', addresses: { ipv4: '100.64.0.1', ipv6: 'fd7a::1' }, endpoints: [], allowedIps: [], tags: [], user: null, online: true, lastSeen: null, expiresAt: null };
    const map: NetworkMapData = {
      version: 3,
      epoch: 'e',
      self,
      peers: [],
      packetFilter: [{ srcIps: ['100.64.0.2'], dstIps: ['100.64.0.1'], proto: 'any', dstPorts: [] }],
      routes: [],
      extensions: {},
      overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a::/48' },
    };
    const next = applyMapResponse(map, { kind: 'delta', epoch: 'e', baseVersion: 3, version: 4, peersUpserted: [], peersRemoved: [], packetFilterPatch: { entries: 1, changes: [{ at: 0, add: ['100.64.0.3'], remove: [] }] } });
    expect(next.packetFilter).toEqual([{ srcIps: ['100.64.0.2', '100.64.0.3'], dstIps: ['100.64.0.1'], proto: 'any', dstPorts: [] }]);
    expect(next.version).toBe(4);
    expect(() => applyMapResponse({ ...map, packetFilter: null }, { kind: 'delta', epoch: 'e', baseVersion: 3, version: 4, peersUpserted: [], peersRemoved: [], packetFilterPatch: { entries: 1, changes: [] } })).toThrow(FilterPatchMismatch);
  });
});
