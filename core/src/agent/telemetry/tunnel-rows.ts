import type { TunnelRow } from '../../api/telemetry';
import type { WgPeerStats } from '../../wg/types';

/** WireGuard drops a session this long after its last handshake (REJECT_AFTER_TIME), seconds. */
export const TUNNEL_UP_MAX_AGE_S = 180;

/** toTunnelRows turns one WireGuard stats sample into a row per known peer (by public key). */
export function toTunnelRows(src: string, stats: readonly WgPeerStats[], peerNameByKey: ReadonlyMap<string, string>, now: number): TunnelRow[] {
  const rows: TunnelRow[] = [];
  for (const s of stats) {
    const dst = peerNameByKey.get(s.publicKey);
    if (dst === undefined) continue;
    const age = s.lastHandshake === null ? null : Math.max(0, (now - s.lastHandshake) / 1000);
    rows.push({ ts: now, src, dst, rxBytes: s.rxBytes, txBytes: s.txBytes, handshakeAgeS: age, up: age !== null && age < TUNNEL_UP_MAX_AGE_S });
  }
  return rows;
}
