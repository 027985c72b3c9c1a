/**
 * The wireguard-go UAPI text protocol (https://www.wireguard.com/xplatform/), as pure functions:
 * build `set=1` transactions, parse `get=1` answers and the closing `errno=N`. Keys are hex on
 * the wire and base64 everywhere else.
 */
import { base64ToHex, hexToBase64 } from '../auth/keys';
import { ErrorCode, TrellisError } from '../errors';
import { canonicalCidr } from './cidr';
import type { WgConfigDiff } from './config-diff';
import type { WgConfig, WgPeerConfig, WgPeerStats } from './types';

/** UapiPeerSet is one peer section of a set transaction; absent fields are not written. */
export interface UapiPeerSet {
  /** base64 */
  publicKey: string;
  remove?: boolean;
  /** Only change the peer if it exists; never create it. */
  updateOnly?: boolean;
  endpoint?: string;
  persistentKeepaliveInterval?: number;
  replaceAllowedIps?: boolean;
  allowedIps?: string[];
}

/** UapiSet is one `set=1` transaction. */
export interface UapiSet {
  /** base64 */
  privateKey?: string;
  listenPort?: number;
  /** 0 clears the mark. */
  fwmark?: number;
  replacePeers?: boolean;
  peers: UapiPeerSet[];
}

/** UapiPeerState is one peer as `get=1` reports it. */
export interface UapiPeerState {
  /** base64 */
  publicKey: string;
  endpoint: string | null;
  lastHandshakeTimeSec: number;
  lastHandshakeTimeNsec: number;
  rxBytes: number;
  txBytes: number;
  persistentKeepaliveInterval: number;
  /** As reported (canonical for wireguard-go). */
  allowedIps: string[];
  protocolVersion: number;
  /** True when a non-zero preshared key is set (the key itself is not kept). */
  hasPresharedKey: boolean;
}

/** UapiDeviceState is the whole `get=1` answer. */
export interface UapiDeviceState {
  /** base64, or null when the device has no private key yet */
  privateKey: string | null;
  listenPort: number;
  fwmark: number;
  peers: UapiPeerState[];
}

/** UAPI_GET is the request for the device state. */
export const UAPI_GET = 'get=1\n\n';

const ZERO_KEY_HEX = '0'.repeat(64);
const HEX_KEY = /^[0-9a-f]{64}$/;

function uapiError(what: string, errno?: number): TrellisError {
  return new TrellisError(ErrorCode.DEVICE, `UAPI ${what}`, errno === undefined ? undefined : { errno });
}

function hexKey(b64: string, field: string): string {
  const hex = base64ToHex(b64);
  if (!HEX_KEY.test(hex)) throw uapiError(`${field} "${b64}" is not base64 of a 32-byte key`);
  return hex;
}

function noNewline(value: string, field: string): string {
  if (/[\n=]/.test(value)) throw uapiError(`${field} "${value}" must not contain a newline or "="`);
  return value;
}

/** serializeSet writes a complete `set=1` transaction, blank line included. */
export function serializeSet(set: UapiSet): string {
  const lines = ['set=1'];
  if (set.privateKey !== undefined) lines.push(`private_key=${hexKey(set.privateKey, 'private_key')}`);
  if (set.listenPort !== undefined) lines.push(`listen_port=${set.listenPort}`);
  if (set.fwmark !== undefined) lines.push(`fwmark=${set.fwmark}`);
  if (set.replacePeers) lines.push('replace_peers=true');
  for (const p of set.peers) {
    lines.push(`public_key=${hexKey(p.publicKey, 'public_key')}`);
    if (p.remove) {
      lines.push('remove=true');
      continue;
    }
    if (p.updateOnly) lines.push('update_only=true');
    if (p.endpoint !== undefined) lines.push(`endpoint=${noNewline(p.endpoint, 'endpoint')}`);
    if (p.persistentKeepaliveInterval !== undefined) {
      lines.push(`persistent_keepalive_interval=${p.persistentKeepaliveInterval}`);
    }
    if (p.replaceAllowedIps) lines.push('replace_allowed_ips=true');
    for (const ip of p.allowedIps ?? []) lines.push(`allowed_ip=${noNewline(ip, 'allowed_ip')}`);
  }
  return lines.join('\n') + '\n\n';
}

/** parseSetRequest reads a `set=1` transaction back (for tests and fake devices). */
export function parseSetRequest(text: string): UapiSet {
  const lines = text.split('\n').filter((l) => l !== '');
  if (lines[0] !== 'set=1') throw uapiError(`request does not start with set=1`);
  const set: UapiSet = { peers: [] };
  let peer: UapiPeerSet | null = null;
  for (const line of lines.slice(1)) {
    const eq = line.indexOf('=');
    if (eq < 0) throw uapiError(`line "${line}" has no "="`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'public_key') {
      peer = { publicKey: hexToBase64(value) };
      set.peers.push(peer);
    } else if (peer === null) {
      if (key === 'private_key') set.privateKey = hexToBase64(value);
      else if (key === 'listen_port') set.listenPort = Number(value);
      else if (key === 'fwmark') set.fwmark = Number(value);
      else if (key === 'replace_peers') set.replacePeers = value === 'true';
      else throw uapiError(`unknown interface key "${key}"`);
    } else if (key === 'remove') peer.remove = value === 'true';
    else if (key === 'update_only') peer.updateOnly = value === 'true';
    else if (key === 'endpoint') peer.endpoint = value;
    else if (key === 'persistent_keepalive_interval') peer.persistentKeepaliveInterval = Number(value);
    else if (key === 'replace_allowed_ips') peer.replaceAllowedIps = value === 'true';
    else if (key === 'allowed_ip') (peer.allowedIps ??= []).push(value);
    else throw uapiError(`unknown peer key "${key}"`);
  }
  return set;
}

/**
 * parseErrno finds the closing `errno=N` of a response. Returns null when the response is not
 * complete yet (callers keep reading); throws when the device reports a non-zero errno.
 */
export function parseErrno(text: string): number | null {
  const m = /(?:^|\n)errno=(-?\d+)\n/.exec(text);
  if (!m) return null;
  const errno = Number(m[1]);
  if (errno !== 0) {
    throw uapiError(`request failed with errno=${errno} (${errnoName(errno)}); the device log says which line it refused`, errno);
  }
  return errno;
}

function errnoName(errno: number): string {
  switch (Math.abs(errno)) {
    case 5:
      return 'EIO: the device could not apply it';
    case 22:
      return 'EINVAL: a key or value was invalid';
    case 71:
      return 'EPROTO: malformed request';
    case 98:
      return 'EADDRINUSE: listen port already in use';
    default:
      return 'unknown error';
  }
}

function num(value: string, key: string): number {
  const n = Number(value);
  if (value === '' || !Number.isFinite(n)) throw uapiError(`get: ${key}="${value}" is not a number`);
  return n;
}

/** parseGetResponse reads a `get=1` answer up to its errno line; throws on errno != 0 or a malformed line. */
export function parseGetResponse(text: string): UapiDeviceState {
  const state: UapiDeviceState = { privateKey: null, listenPort: 0, fwmark: 0, peers: [] };
  let peer: UapiPeerState | null = null;
  let sawErrno = false;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq < 0) throw uapiError(`get: line "${line}" has no "="`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'errno') {
      parseErrno(`${line}\n`);
      sawErrno = true;
      break;
    }
    if (key === 'public_key') {
      if (!HEX_KEY.test(value)) throw uapiError(`get: public_key "${value}" is not 64 hex digits`);
      peer = {
        publicKey: hexToBase64(value),
        endpoint: null,
        lastHandshakeTimeSec: 0,
        lastHandshakeTimeNsec: 0,
        rxBytes: 0,
        txBytes: 0,
        persistentKeepaliveInterval: 0,
        allowedIps: [],
        protocolVersion: 1,
        hasPresharedKey: false,
      };
      state.peers.push(peer);
      continue;
    }
    if (peer === null) {
      if (key === 'private_key') state.privateKey = value === ZERO_KEY_HEX ? null : hexToBase64(value);
      else if (key === 'listen_port') state.listenPort = num(value, key);
      else if (key === 'fwmark') state.fwmark = num(value, key);
      // Unknown interface keys from newer versions are ignored, as the protocol asks.
      continue;
    }
    switch (key) {
      case 'endpoint':
        peer.endpoint = value === '' ? null : value;
        break;
      case 'last_handshake_time_sec':
        peer.lastHandshakeTimeSec = num(value, key);
        break;
      case 'last_handshake_time_nsec':
        peer.lastHandshakeTimeNsec = num(value, key);
        break;
      case 'rx_bytes':
        peer.rxBytes = num(value, key);
        break;
      case 'tx_bytes':
        peer.txBytes = num(value, key);
        break;
      case 'persistent_keepalive_interval':
        peer.persistentKeepaliveInterval = num(value, key);
        break;
      case 'allowed_ip':
        peer.allowedIps.push(value);
        break;
      case 'protocol_version':
        peer.protocolVersion = num(value, key);
        break;
      case 'preshared_key':
        peer.hasPresharedKey = value !== ZERO_KEY_HEX;
        break;
      default:
        break;
    }
  }
  if (!sawErrno) throw uapiError('get: response ended before its errno line');
  return state;
}

/** serializeGetResponse writes a device state as wireguard-go would (for fake devices in tests). */
export function serializeGetResponse(state: UapiDeviceState): string {
  const lines: string[] = [];
  if (state.privateKey !== null) lines.push(`private_key=${base64ToHex(state.privateKey)}`);
  lines.push(`listen_port=${state.listenPort}`);
  if (state.fwmark !== 0) lines.push(`fwmark=${state.fwmark}`);
  for (const p of state.peers) {
    lines.push(`public_key=${base64ToHex(p.publicKey)}`);
    lines.push(`preshared_key=${ZERO_KEY_HEX}`);
    lines.push(`protocol_version=${p.protocolVersion}`);
    if (p.endpoint !== null) lines.push(`endpoint=${p.endpoint}`);
    lines.push(`last_handshake_time_sec=${p.lastHandshakeTimeSec}`);
    lines.push(`last_handshake_time_nsec=${p.lastHandshakeTimeNsec}`);
    lines.push(`tx_bytes=${p.txBytes}`);
    lines.push(`rx_bytes=${p.rxBytes}`);
    lines.push(`persistent_keepalive_interval=${p.persistentKeepaliveInterval}`);
    for (const ip of p.allowedIps) lines.push(`allowed_ip=${ip}`);
  }
  lines.push('errno=0');
  return lines.join('\n') + '\n\n';
}

/** stateToWgConfig is what the device holds, as a WgConfig (sorted, canonical), for diffing. */
export function stateToWgConfig(state: UapiDeviceState): WgConfig {
  const peers: WgPeerConfig[] = state.peers.map((p) => {
    const out: WgPeerConfig = {
      publicKey: p.publicKey,
      endpoint: p.endpoint,
      allowedIps: [...new Set(p.allowedIps.map((c) => canonicalCidr(c, 'device allowed IP')))].sort(),
    };
    if (p.persistentKeepaliveInterval > 0) out.persistentKeepalive = p.persistentKeepaliveInterval;
    return out;
  });
  peers.sort((a, b) => (a.publicKey < b.publicKey ? -1 : a.publicKey > b.publicKey ? 1 : 0));
  return { privateKey: state.privateKey ?? '', listenPort: state.listenPort, ...(state.fwmark !== 0 ? { fwmark: state.fwmark } : {}), peers };
}

/** stateToStats maps live counters; a zero handshake time means none yet. */
export function stateToStats(state: UapiDeviceState): WgPeerStats[] {
  return state.peers.map((p) => ({
    publicKey: p.publicKey,
    endpoint: p.endpoint,
    lastHandshake:
      p.lastHandshakeTimeSec === 0 && p.lastHandshakeTimeNsec === 0
        ? null
        : p.lastHandshakeTimeSec * 1000 + Math.floor(p.lastHandshakeTimeNsec / 1e6),
    rxBytes: p.rxBytes,
    txBytes: p.txBytes,
    allowedIps: [...p.allowedIps],
  }));
}

/**
 * setFromDiff is the one transaction that applies a diff: removals, then updates of existing
 * peers (update_only, so a peer removed meanwhile is not re-created half-configured), then adds.
 */
export function setFromDiff(d: WgConfigDiff): UapiSet {
  const set: UapiSet = { peers: [] };
  if (d.privateKey !== undefined) set.privateKey = d.privateKey;
  if (d.listenPort !== undefined) set.listenPort = d.listenPort;
  if (d.fwmark !== undefined) set.fwmark = d.fwmark;
  for (const key of d.remove) set.peers.push({ publicKey: key, remove: true });
  for (const u of d.update) {
    const p: UapiPeerSet = { publicKey: u.publicKey, updateOnly: true };
    if (u.endpoint !== undefined) p.endpoint = u.endpoint;
    if (u.persistentKeepalive !== undefined) p.persistentKeepaliveInterval = u.persistentKeepalive;
    if (u.allowedIps !== undefined) {
      p.replaceAllowedIps = true;
      p.allowedIps = u.allowedIps;
    }
    set.peers.push(p);
  }
  for (const a of d.add) {
    const p: UapiPeerSet = { publicKey: a.publicKey };
    if (a.endpoint !== null) p.endpoint = a.endpoint;
    if ((a.persistentKeepalive ?? 0) > 0) p.persistentKeepaliveInterval = a.persistentKeepalive;
    p.replaceAllowedIps = true;
    p.allowedIps = a.allowedIps;
    set.peers.push(p);
  }
  return set;
}
