import type { NetworkMapData } from '@trellis/core/api';
import { assignProfile, checkConfig, EXTENSION_KEY, type ShapingConfig } from './assign';
import { officeProfile } from './test-profiles';

const bulkOnly = () => ({ ...officeProfile(), name: 'branch', linkRateMbit: 200 });

function mapFor(name: string, tags: string[], user: string | null = null): NetworkMapData {
  return {
    version: 1,
    epoch: 'e',
    self: { id: `n-${name}`, name, wgKey: 'k', addresses: { ipv4: '100.64.0.2', ipv6: 'fd00::2' }, endpoints: [], allowedIps: [], tags, user, online: true, lastSeen: null, expiresAt: null },
    peers: [],
    packetFilter: null,
    routes: [],
    extensions: { other: { keep: true } },
    overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd00::/64' },
  };
}

const config: ShapingConfig = {
  profiles: { office: officeProfile(), branch: bulkOnly() },
  assign: [
    { node: 'special', profile: 'branch' },
    { tag: 'tag:office', profile: 'office' },
    { tag: 'tag:branch', profile: 'branch' },
    { group: 'eng', profile: 'branch' },
  ],
};

describe('assignProfile', () => {
  it('gives each node the profile of the first rule its tags match, keeping other extensions', () => {
    const out = assignProfile(config, mapFor('a', ['tag:office', 'tag:branch']));
    expect((out.extensions[EXTENSION_KEY] as { profile: { name: string } }).profile.name).toBe('office');
    expect(out.extensions.other).toEqual({ keep: true });
    expect((assignProfile(config, mapFor('b', ['tag:branch'])).extensions[EXTENSION_KEY] as { profile: { name: string } }).profile.name).toBe('branch');
    expect((assignProfile(config, mapFor('special', ['tag:office'])).extensions[EXTENSION_KEY] as { profile: { name: string } }).profile.name).toBe('branch');
    expect((assignProfile(config, mapFor('c', [], 'eng')).extensions[EXTENSION_KEY] as { profile: { name: string } }).profile.name).toBe('branch');
  });

  it('uses the default for unmatched nodes, and sets nothing when there is none', () => {
    const untagged = mapFor('d', []);
    untagged.extensions[EXTENSION_KEY] = { profile: officeProfile() };
    expect(assignProfile(config, untagged).extensions[EXTENSION_KEY]).toBeUndefined();
    const withDefault = assignProfile({ ...config, default: 'office' }, mapFor('d', []));
    expect((withDefault.extensions[EXTENSION_KEY] as { profile: { name: string } }).profile.name).toBe('office');
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
