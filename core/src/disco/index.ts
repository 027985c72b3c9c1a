/**
 * disco: the wire format of Trellis's discovery messages on the WireGuard socket (pings, pongs,
 * path messages) and their pair keys. No I/O: the agent sends and receives them through trellis-wg
 * (wg/DeviceDatagramChannel).
 */
export {
  DISCO_HEADER_LEN,
  DISCO_MAC_LEN,
  DISCO_MAGIC,
  DISCO_MAX_LEN,
  DISCO_MIN_LEN,
  DISCO_VERSION,
  DiscoType,
  discoPairKey,
  openDisco,
  parseDiscoHeader,
  sealDisco,
} from './disco-message';
export type { DiscoHeader, DiscoMessage, DiscoRejection, DiscoTypeCode } from './disco-message';
export { decodeObservedAddress, encodeObservedAddress } from './observed-address';
