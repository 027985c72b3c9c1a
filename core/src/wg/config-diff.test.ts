import { generateWgKeyPair } from '../auth/keys';
import { TrellisError } from '../errors';
import { diffWgConfig, isEmptyDiff, summarizeDiff } from './config-diff';
import { serializeSet, setFromDiff } from './uapi';
import type { WgConfig, WgPeerConfig } from './types';

const key = () => generateWgKeyPair().publicKey;
const priv = generateWgKeyPair().privateKey;

function peer(i: number, publicKey = key()): WgPeerConfig {
  return {
    publicKey,
    endpoint: `198.18.${(i >> 8) & 255}.${i & 255}:51820`,
    allowedIps: [`100.64.${(i >> 8) & 255}.${i & 255}/32`, `fd7a::${i.toString(16)}/128`],
    persistentKeepalive: 25,
  };
}

function config(peers: WgPeerConfig[]): WgConfig {
  return { privateKey: priv, listenPort: 51820, peers: [...peers].sort((x, y) => (x.publicKey < y.publicKey ? -1 : 1)) };
}

const clone = (c: WgConfig): WgConfig => JSON.parse(JSON.stringify(c)) as WgConfig;

describe('diffWgConfig', () => {
  const base = config([peer(1), peer(2), peer(3)]);

  it('finds nothing between equal configs', () => {
    const d = diffWgConfig(base, clone(base));
    expect(isEmptyDiff(d)).toBe(true);
    expect(summarizeDiff(d)).toBe('no changes');
  });

  it('treats allowed IPs as sets of canonical CIDRs', () => {
    const next = clone(base);
    next.peers[0].allowedIps = [...next.peers[0].allowedIps].reverse().map((c) => c.toUpperCase());
    next.peers[1].allowedIps = [...next.peers[1].allowedIps, next.peers[1].allowedIps[0]];
    expect(isEmptyDiff(diffWgConfig(base, next))).toBe(true);
  });

  it('updates only the peer whose allowed IPs changed, with only that field', () => {
    const next = clone(base);
    next.peers[1].allowedIps = [...next.peers[1].allowedIps, '10.20.1.1/16'];
    const d = diffWgConfig(base, next);
    expect(d.add).toEqual([]);
    expect(d.remove).toEqual([]);
    expect(d.update).toEqual([{ publicKey: next.peers[1].publicKey, allowedIps: [...next.peers[1].allowedIps.slice(0, 2), '10.20.0.0/16'].sort() }]);
    expect(summarizeDiff(d)).toBe('added 0, updated 1, removed 0 peers');
  });

  it('updates an endpoint change and a keepalive change', () => {
    const next = clone(base);
    next.peers[0].endpoint = '[FD00::9]:51820';
    delete next.peers[2].persistentKeepalive;
    const d = diffWgConfig(base, next);
    expect(d.update).toEqual(
      [
        { publicKey: next.peers[0].publicKey, endpoint: '[fd00::9]:51820' },
        { publicKey: next.peers[2].publicKey, persistentKeepalive: 0 },
      ].sort((x, y) => (x.publicKey < y.publicKey ? -1 : 1)),
    );
  });

  it('keeps a learned endpoint when the new config has none', () => {
    const next = clone(base);
    next.peers[0].endpoint = null;
    expect(isEmptyDiff(diffWgConfig(base, next))).toBe(true);
  });

  it('adds and removes peers', () => {
    const added = peer(9);
    const next = config([base.peers[0], base.peers[2], added]);
    const d = diffWgConfig(base, next);
    expect(d.remove).toEqual([base.peers[1].publicKey]);
    expect(d.add).toEqual([added]);
    expect(d.update).toEqual([]);
    expect(summarizeDiff(d)).toBe('added 1, updated 0, removed 1 peers');
  });

  it('reports private key and listen port changes', () => {
    const next = clone(base);
    next.privateKey = generateWgKeyPair().privateKey;
    next.listenPort = 41641;
    const d = diffWgConfig(base, next);
    expect(d.privateKey).toBe(next.privateKey);
    expect(d.listenPort).toBe(41641);
    expect(d.add.length + d.update.length + d.remove.length).toBe(0);
    expect(summarizeDiff(d)).toBe('changed private key, listen port 41641; added 0, updated 0, removed 0 peers');
  });

  it('refuses bad input with a config error', () => {
    const bad = (mut: (c: WgConfig) => void) => {
      const next = clone(base);
      mut(next);
      return () => diffWgConfig(base, next);
    };
    expect(bad((c) => c.peers.push({ ...peer(5), publicKey: 'nope' }))).toThrow(TrellisError);
    expect(bad((c) => c.peers.push(peer(6, c.peers[0].publicKey)))).toThrow(/listed twice/);
    expect(bad((c) => (c.peers[0].allowedIps = ['10.0.0.0/40']))).toThrow(/prefix length/);
    expect(bad((c) => (c.peers[0].endpoint = 'host.example:51820'))).toThrow(/ip:port/);
    expect(bad((c) => (c.listenPort = 70000))).toThrow(/UDP port/);
    expect(bad((c) => (c.privateKey = 'x'))).toThrow(/32-byte/);
  });

  // Its cost is measured by the map-delta benchmark (bench/map-delta.js), not timed here.
  it('writes only the changed peer among 1,000', () => {
    const peers = Array.from({ length: 1000 }, (_, i) => peer(i + 1));
    const prev = config(peers);
    const next = clone(prev);
    next.peers[500].allowedIps = [...next.peers[500].allowedIps, '10.99.0.0/24'];
    const request = serializeSet(setFromDiff(diffWgConfig(prev, next)));
    expect(request.match(/^public_key=/gm)).toHaveLength(1);
    expect(request).toContain(`public_key=${Buffer.from(next.peers[500].publicKey, 'base64').toString('hex')}\nupdate_only=true\n`);
    expect(request).toContain('allowed_ip=10.99.0.0/24\n');
  });
});
