/**
 * packet-filter: the agent's enforcement of map.packetFilter on the WireGuard interface, as one
 * nftables table (`inet trellis`) that Trellis owns and replaces atomically.
 */
export { PacketFilter, defaultNftRunner } from './packet-filter';
export type { NftRunner, PacketFilterOptions, PacketFilterResult } from './packet-filter';
export { NFT_FAMILY, NFT_TABLE, removeScript, renderRuleset } from './ruleset';
export type { PacketFilterRule, PacketFilterSpec } from './ruleset';
export { mergePortRanges, normalizePrefixes } from './address-set';
