/**
 * net: IP addresses and prefixes, the one implementation core and (through @trellis/core/api) the
 * plugins use. Built on ipaddr.js; parsing is strict and returns null, so each caller raises the
 * error of its own catalogue.
 */
export { addressBits, formatIp, ipFromBigInt, ipToBigInt, parseIp } from './ip-address';
export type { IpAddress, IpFamily, MappedStyle } from './ip-address';
export { comparePrefixes, formatPrefix, maskPrefix, parseAddressWithLength, parsePrefix, prefixContains, prefixesOverlap, whyNotPrefix } from './ip-prefix';
export type { IpAddressWithLength, IpPrefix, PrefixFormat } from './ip-prefix';
