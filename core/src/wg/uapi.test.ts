import { base64ToHex, generateWgKeyPair } from '../auth/keys';
import { TrellisError } from '../errors';
import {
  parseErrno,
  parseGetResponse,
  parseSetRequest,
  serializeGetResponse,
  serializeSet,
  setFromDiff,
  stateToStats,
  stateToWgConfig,
  type UapiSet,
} from './uapi';

const priv = generateWgKeyPair().privateKey;
const [a, b, c] = [generateWgKeyPair().publicKey, generateWgKeyPair().publicKey, generateWgKeyPair().publicKey];
const hex = base64ToHex;

describe('serializeSet', () => {
  it('writes interface fields then each peer, ending with a blank line', () => {
    const set: UapiSet = {
      privateKey: priv,
      listenPort: 51820,
      replacePeers: true,
      peers: [
        {
          publicKey: a,
          endpoint: '198.18.200.2:51820',
          persistentKeepaliveInterval: 25,
          replaceAllowedIps: true,
          allowedIps: ['100.100.0.2/32', 'fd7a::2/128'],
        },
        { publicKey: b, remove: true },
        { publicKey: c, updateOnly: true, endpoint: '[fd00::3]:51820' },
      ],
    };
    expect(serializeSet(set)).toBe(
      [
        'set=1',
        `private_key=${hex(priv)}`,
        'listen_port=51820',
        'replace_peers=true',
        `public_key=${hex(a)}`,
        'endpoint=198.18.200.2:51820',
        'persistent_keepalive_interval=25',
        'replace_allowed_ips=true',
        'allowed_ip=100.100.0.2/32',
        'allowed_ip=fd7a::2/128',
        `public_key=${hex(b)}`,
        'remove=true',
        `public_key=${hex(c)}`,
        'update_only=true',
        'endpoint=[fd00::3]:51820',
      ].join('\n') + '\n\n',
    );
    expect(parseSetRequest(serializeSet(set))).toEqual(set);
  });

  it('refuses values that would break the line protocol', () => {
    expect(() => serializeSet({ peers: [{ publicKey: a, endpoint: '1.2.3.4:5\nremove=true' }] })).toThrow(TrellisError);
    expect(() => serializeSet({ privateKey: 'short', peers: [] })).toThrow(/32-byte/);
  });
});

describe('parseGetResponse', () => {
  // The shape wireguard-go 0.0.20220316 answers, with two peers.
  const response =
    [
      `private_key=${hex(priv)}`,
      'listen_port=51820',
      'fwmark=51',
      `public_key=${hex(a)}`,
      `preshared_key=${'0'.repeat(64)}`,
      'protocol_version=1',
      'endpoint=198.18.200.2:51820',
      'last_handshake_time_sec=1700000000',
      'last_handshake_time_nsec=123456789',
      'tx_bytes=1184',
      'rx_bytes=92',
      'persistent_keepalive_interval=25',
      'allowed_ip=100.100.0.2/32',
      'allowed_ip=fd7a::2/128',
      `public_key=${hex(b)}`,
      `preshared_key=${'0'.repeat(64)}`,
      'protocol_version=1',
      'last_handshake_time_sec=0',
      'last_handshake_time_nsec=0',
      'tx_bytes=0',
      'rx_bytes=0',
      'persistent_keepalive_interval=0',
      'allowed_ip=10.20.0.0/16',
      'errno=0',
    ].join('\n') + '\n\n';

  it('reads interface fields and every peer', () => {
    const s = parseGetResponse(response);
    expect(s.privateKey).toBe(priv);
    expect(s.listenPort).toBe(51820);
    expect(s.fwmark).toBe(51);
    expect(s.peers).toHaveLength(2);
    expect(s.peers[0]).toEqual({
      publicKey: a,
      endpoint: '198.18.200.2:51820',
      lastHandshakeTimeSec: 1700000000,
      lastHandshakeTimeNsec: 123456789,
      rxBytes: 92,
      txBytes: 1184,
      persistentKeepaliveInterval: 25,
      allowedIps: ['100.100.0.2/32', 'fd7a::2/128'],
      protocolVersion: 1,
      hasPresharedKey: false,
    });
    expect(s.peers[1].endpoint).toBeNull();
    expect(s.peers[1].allowedIps).toEqual(['10.20.0.0/16']);
  });

  it('round-trips through serializeGetResponse', () => {
    const s = parseGetResponse(response);
    expect(parseGetResponse(serializeGetResponse(s))).toEqual(s);
  });

  it('maps stats and config', () => {
    const s = parseGetResponse(response);
    const stats = stateToStats(s);
    expect(stats[0]).toEqual({
      publicKey: a,
      endpoint: '198.18.200.2:51820',
      lastHandshake: 1700000000123,
      rxBytes: 92,
      txBytes: 1184,
      allowedIps: ['100.100.0.2/32', 'fd7a::2/128'],
    });
    expect(stats[1].lastHandshake).toBeNull();
    const cfg = stateToWgConfig(s);
    expect(cfg.privateKey).toBe(priv);
    expect(cfg.peers.map((p) => p.publicKey)).toEqual([a, b].sort());
    expect(cfg.peers.find((p) => p.publicKey === a)?.persistentKeepalive).toBe(25);
    expect(cfg.peers.find((p) => p.publicKey === b)?.persistentKeepalive).toBeUndefined();
  });

  it('treats an all-zero private key as none', () => {
    expect(parseGetResponse(`private_key=${'0'.repeat(64)}\nlisten_port=0\nerrno=0\n\n`).privateKey).toBeNull();
    expect(parseGetResponse('listen_port=0\nerrno=0\n\n').privateKey).toBeNull();
  });

  it('fails on a non-zero errno, a truncated answer, or a bad line', () => {
    expect(() => parseGetResponse('errno=-22\n\n')).toThrow(/errno=-22 \(EINVAL/);
    expect(() => parseGetResponse('listen_port=1\n')).toThrow(/before its errno/);
    expect(() => parseGetResponse('listen_port\nerrno=0\n\n')).toThrow(/no "="/);
    expect(() => parseGetResponse(`public_key=${hex(a)}\nrx_bytes=lots\nerrno=0\n\n`)).toThrow(/not a number/);
  });
});

describe('parseErrno', () => {
  it('waits for the errno line and throws on non-zero', () => {
    expect(parseErrno('errno=0')).toBeNull();
    expect(parseErrno('errno=0\n\n')).toBe(0);
    try {
      parseErrno('errno=-98\n\n');
      throw new Error('expected a throw');
    } catch (err) {
      expect(err).toBeInstanceOf(TrellisError);
      expect((err as TrellisError).code).toBe('TRELLIS_ERR_DEVICE');
      expect((err as TrellisError).details).toEqual({ errno: -98 });
      expect((err as Error).message).toMatch(/EADDRINUSE/);
    }
  });
});

describe('setFromDiff', () => {
  it('orders removals, updates (update_only), then adds', () => {
    const set = setFromDiff({
      listenPort: 51821,
      add: [{ publicKey: c, endpoint: null, allowedIps: ['100.100.0.3/32'] }],
      update: [{ publicKey: a, allowedIps: ['100.100.0.2/32', '10.0.0.0/8'] }],
      remove: [b],
    });
    expect(serializeSet(set)).toBe(
      [
        'set=1',
        'listen_port=51821',
        `public_key=${hex(b)}`,
        'remove=true',
        `public_key=${hex(a)}`,
        'update_only=true',
        'replace_allowed_ips=true',
        'allowed_ip=100.100.0.2/32',
        'allowed_ip=10.0.0.0/8',
        `public_key=${hex(c)}`,
        'replace_allowed_ips=true',
        'allowed_ip=100.100.0.3/32',
      ].join('\n') + '\n\n',
    );
  });
});
