import type { AccessDecision, NodeGrants } from '../api';
import { PluginErrorCode } from '../api';
import { AccessIndex } from './access-index';

const grant = (label: string, over: Partial<AccessDecision['grants'][number]> = {}): AccessDecision['grants'][number] => ({
  label,
  proto: 'tcp',
  dstPorts: [[22, 22]],
  srcPrefixes: [],
  ...over,
});
const g = (src: number[], dst: number[], more: Partial<NodeGrants> = {}): NodeGrants => ({ src, srcByPrefix: [], dst, ...more });
const nodeAt = (id: string, i: number) => ({ id, approved: true, ownIps: [`100.64.0.${i}`, `fd7a::${i}`] });

function indexOf(decision: AccessDecision, ids: string[]) {
  const nodes = ids.map((id, i) => nodeAt(id, i + 1));
  const { index, placed } = AccessIndex.build(decision, nodes);
  const at = (id: string) => {
    const i = ids.indexOf(id);
    return { id, grants: placed[i]!.grants, ownIps: nodes[i]!.ownIps, cls: placed[i]!.cls };
  };
  return { index, at };
}

describe('AccessIndex', () => {
  it('puts nodes with the same grants in one class, and classes see each other through a grant either way', () => {
    const decision: AccessDecision = {
      version: 'v',
      grants: [grant('web'), grant('db')],
      nodes: new Map([
        ['a', g([0], [])],
        ['b', g([0], [])],
        ['w', g([], [0])],
        ['d', g([1], [1])],
      ]),
    };
    const { index, at } = indexOf(decision, ['a', 'b', 'w', 'd', 'x']);
    expect(at('a').cls).toBe(at('b').cls);
    expect(index.sees(at('a').cls, at('w').cls)).toBe(true);
    expect(index.sees(at('w').cls, at('a').cls)).toBe(true);
    // Two sources of one grant do not see each other; a node both source and destination sees its own class.
    expect(index.sees(at('a').cls, at('b').cls)).toBe(false);
    expect(index.sees(at('d').cls, at('d').cls)).toBe(true);
    expect(index.sees(at('a').cls, at('d').cls)).toBe(false);
    // A node absent from the decision is cut off.
    expect(at('x').cls).toBe(-1);
    expect(index.filterFor(at('x'))).toEqual([]);
  });

  it('builds filters: named sources\' addresses and the prefixes, sorted without repeats, own addresses kept, empty grants left out', () => {
    const decision: AccessDecision = {
      version: 'v',
      grants: [
        grant('ssh', { srcPrefixes: ['10.0.0.0/8', '10.0.0.0/8'] }),
        grant('dns', { proto: 'udp', dstPorts: [[53, 53]] }),
        grant('none', { proto: 'any', dstPorts: [] }),
        grant('lan', { proto: 'udp', dstPorts: [[53, 53]] }),
      ],
      nodes: new Map([
        ['a', g([0, 1], [0])],
        ['b', g([1], [0, 1], { srcByPrefix: [0] })],
        ['s', g([], [0, 2], { dstAt: { 3: ['10.20.0.0/16'] } })],
      ]),
    };
    const { index, at } = indexOf(decision, ['a', 'b', 's']);
    expect(index.srcIpsOf(0)).toEqual(['10.0.0.0/8', '100.64.0.1', 'fd7a::1']);
    // 'none' and 'lan' have no sources: no entry for them.
    expect(index.filterFor(at('s'))).toEqual([
      { srcIps: ['10.0.0.0/8', '100.64.0.1', 'fd7a::1'], dstIps: ['100.64.0.3', 'fd7a::3'], proto: 'tcp', dstPorts: [[22, 22]] },
    ]);
    // b is a destination of ssh (its own address is a source of dns, and stays in the srcIps).
    expect(index.filterFor(at('b'))).toEqual([
      { srcIps: ['10.0.0.0/8', '100.64.0.1', 'fd7a::1'], dstIps: ['100.64.0.2', 'fd7a::2'], proto: 'tcp', dstPorts: [[22, 22]] },
      { srcIps: ['100.64.0.1', '100.64.0.2', 'fd7a::1', 'fd7a::2'], dstIps: ['100.64.0.2', 'fd7a::2'], proto: 'udp', dstPorts: [[53, 53]] },
    ]);
    // Entries share their grant's srcIps array.
    expect(index.filterFor(at('b'))![0]!.srcIps).toBe(index.filterFor(at('a'))![0]!.srcIps);
  });

  it('reaches a destination at the addresses its pair names and sorts entries as Rego sorts objects', () => {
    const decision: AccessDecision = {
      version: 'v',
      grants: [grant('lan', { proto: 'udp', dstPorts: [[53, 53]] }), grant('web', { dstPorts: [[443, 443]] }), grant('ssh')],
      nodes: new Map([
        ['a', g([0, 1, 2], [])],
        ['r', g([], [1, 2], { dstAt: { 0: ['10.20.0.0/16'] } })],
      ]),
    };
    const { index, at } = indexOf(decision, ['a', 'r']);
    expect(index.sees(at('a').cls, at('r').cls)).toBe(true);
    expect(index.filterFor(at('r'))!.map((f) => [f.dstIps, f.dstPorts])).toEqual([
      [['10.20.0.0/16'], [[53, 53]]],
      [['100.64.0.2', 'fd7a::2'], [[22, 22]]],
      [['100.64.0.2', 'fd7a::2'], [[443, 443]]],
    ]);
  });

  it('without a decision, every approved node sees every other and filters are null', () => {
    const { index, placed } = AccessIndex.build(null, [nodeAt('a', 1), { ...nodeAt('b', 2), approved: false }, nodeAt('c', 3)]);
    expect(placed.map((p) => p.cls)).toEqual([0, -1, 0]);
    expect(index.sees(0, 0)).toBe(true);
    expect(index.filterFor({ id: 'a', grants: placed[0]!.grants, ownIps: [] })).toBeNull();
  });

  it('moves a node\'s addresses in and out of srcIps, and says which grants changed', () => {
    const decision: AccessDecision = { version: 'v', grants: [grant('x', { srcPrefixes: ['100.64.0.9'] }), grant('y')], nodes: new Map([['a', g([0], [1])]]) };
    const { index } = indexOf(decision, ['a']);
    const before = index.srcIpsOf(0);
    expect(index.moveSources(null, { grants: [0, 1], ips: ['100.64.0.9', 'fd7a::9'] }).sort()).toEqual([0, 1]);
    expect(before).toEqual(['100.64.0.1', '100.64.0.9', 'fd7a::1']);
    expect(index.srcIpsOf(0)).toEqual(['100.64.0.1', '100.64.0.9', 'fd7a::1', 'fd7a::9']);
    // The prefix written as 100.64.0.9 stays when the node holding that address leaves.
    expect(index.moveSources({ grants: [0, 1], ips: ['100.64.0.9', 'fd7a::9'] }, null).sort()).toEqual([0, 1]);
    expect(index.srcIpsOf(0)).toEqual(['100.64.0.1', '100.64.0.9', 'fd7a::1']);
    expect(index.srcIpsOf(1)).toEqual([]);
    expect(index.moveSources({ grants: [0], ips: ['100.64.0.1', 'fd7a::1'] }, { grants: [0], ips: ['100.64.0.1', 'fd7a::1'] })).toEqual([]);
  });

  it('refuses a decision that does not fit the grants, naming what is wrong', () => {
    const bad = (nodes: Map<string, unknown>, grants = [grant('x')]) => () => AccessIndex.build({ version: 'v', grants, nodes: nodes as Map<string, NodeGrants> }, [nodeAt('a', 1)]);
    expect(bad(new Map([['a', g([1], [])]]))).toThrow(expect.objectContaining({ code: PluginErrorCode.ACCESS_DECISION_INVALID, message: expect.stringContaining('src of node a holds 1') }));
    expect(bad(new Map([['a', g([], [], { dstAt: { 4: ['x'] } })]]))).toThrow(/dstAt of node a has grant 4/);
    expect(bad(new Map([['a', g([0], [0])]]), [grant('x', { proto: 'gre' as 'tcp' })])).toThrow(/grant 0 has proto "gre"/);
  });
});
