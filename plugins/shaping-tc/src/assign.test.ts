import type { NetworkMapData } from '@trellis/core/api';
import { assignProfile, assignProfiles, checkConfig, EXTENSION_KEY, type ShapingConfig } from './assign';
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

describe('assignProfiles', () => {
  it('never builds a peer list that is built on first read, and the copy still builds it when read', () => {
    const map = mapFor('a', ['tag:office']);
    let builds = 0;
    // As MapBuilder does in whole-mesh mode: a getter that settles on the object it is read through.
    Object.defineProperty(map, 'peers', {
      configurable: true,
      enumerable: true,
      get(this: NetworkMapData) {
        builds++;
        Object.defineProperty(this, 'peers', { value: [{ id: 'n-b' }], writable: true, configurable: true, enumerable: true });
        return this.peers;
      },
    });
    const [out] = assignProfiles(config, [map]);
    expect(builds).toBe(0);
    expect((out.extensions[EXTENSION_KEY] as { profile: { name: string } }).profile.name).toBe('office');
    expect(out.extensions.other).toEqual({ keep: true });
    expect(out.peers).toEqual([{ id: 'n-b' }]);
    expect(builds).toBe(1);
    expect(map.extensions[EXTENSION_KEY]).toBeUndefined();
  });

  it('shares one frozen extension per profile across maps', () => {
    const [a, b, c] = assignProfiles(config, [mapFor('a', ['tag:office']), mapFor('b', ['tag:office']), mapFor('c', ['tag:branch'])]);
    expect(a.extensions[EXTENSION_KEY]).toBe(b.extensions[EXTENSION_KEY]);
    expect(a.extensions[EXTENSION_KEY]).not.toBe(c.extensions[EXTENSION_KEY]);
    expect(Object.isFrozen(a.extensions[EXTENSION_KEY])).toBe(true);
  });
});
