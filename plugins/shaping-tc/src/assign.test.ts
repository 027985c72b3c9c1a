import type { NodeInfo } from '@trellis/core/api';
import { checkConfig, profileExtensions, type ShapingConfig } from './assign';
import { officeProfile } from './test-profiles';

const bulkOnly = () => ({ ...officeProfile(), name: 'branch', linkRateMbit: 200 });

function nodeFor(name: string, tags: string[], user: string | null = null): NodeInfo {
  return Object.freeze({
    id: `n-${name}`,
    name,
    user,
    groups: Object.freeze([]),
    tags: Object.freeze(tags),
    addresses: Object.freeze({ ipv4: '100.64.0.2', ipv6: 'fd00::2' }),
    posture: null,
    approved: true,
  });
}

const nameOf = (ext: unknown) => (ext as { profile: { name: string } } | null)?.profile.name;

const config: ShapingConfig = {
  profiles: { office: officeProfile(), branch: bulkOnly() },
  assign: [
    { node: 'special', profile: 'branch' },
    { tag: 'tag:office', profile: 'office' },
    { tag: 'tag:branch', profile: 'branch' },
    { group: 'eng', profile: 'branch' },
  ],
};

describe('profileExtensions', () => {
  it('gives each node the profile of the first rule its tags match', () => {
    const extensionOf = profileExtensions(config);
    expect(nameOf(extensionOf(nodeFor('a', ['tag:office', 'tag:branch'])))).toBe('office');
    expect(nameOf(extensionOf(nodeFor('b', ['tag:branch'])))).toBe('branch');
    expect(nameOf(extensionOf(nodeFor('special', ['tag:office'])))).toBe('branch');
    expect(nameOf(extensionOf(nodeFor('c', [], 'eng')))).toBe('branch');
  });

  it('uses the default for unmatched nodes, and gives nothing (no key) when there is none', () => {
    expect(profileExtensions(config)(nodeFor('d', []))).toBeNull();
    expect(nameOf(profileExtensions({ ...config, default: 'office' })(nodeFor('d', [])))).toBe('office');
  });
});

describe('checkConfig', () => {
  it('rejects invalid profiles and rules naming unknown profiles at setup', () => {
    const bad = { ...officeProfile(), linkRateMbit: 10 };
    expect(() => checkConfig({ profiles: { office: bad }, assign: [] })).toThrow(/profile "office": class "realtime": ceiling 50 Mbit is above the link rate 10 Mbit/);
    expect(() => checkConfig({ profiles: { office: officeProfile() }, assign: [{ tag: 'x', profile: 'nope' }] })).toThrow('assign[0] names unknown profile "nope"');
    expect(() => checkConfig({ profiles: { office: officeProfile() }, assign: [], default: 'gone' })).toThrow('default names unknown profile "gone"');
    expect(() => checkConfig({ profiles: { x: officeProfile() }, assign: [] })).toThrow('profile "x" has name "office"; the name must equal its key');
    expect(checkConfig(config)).toBe(config);
  });
});

describe('profileExtensions per node', () => {
  it('reads only the node it is given (no map, so no peer list), leaving it as it was', () => {
    const node = nodeFor('a', ['tag:office']);
    const before = JSON.stringify(node);
    expect(nameOf(profileExtensions(config)(node))).toBe('office');
    expect(JSON.stringify(node)).toBe(before);
  });

  it('shares one frozen extension per profile across nodes', () => {
    const extensionOf = profileExtensions(config);
    const [a, b, c] = [extensionOf(nodeFor('a', ['tag:office'])), extensionOf(nodeFor('b', ['tag:office'])), extensionOf(nodeFor('c', ['tag:branch']))];
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(Object.isFrozen(a)).toBe(true);
  });
});
