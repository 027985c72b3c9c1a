/**
 * classifyNat names a NAT's mapping behaviour (RFC 4787 §4.1, RFC 5780 §4.3) from binding answers
 * one local socket got from two or more STUN servers at different transport addresses: the same
 * reflexive address from all of them is an endpoint-independent ("easy") mapping, which hole
 * punching opens; different ones are a per-destination ("hard") mapping, which needs a relay.
 */
import { sameTransportAddress, transportAddressText, type TransportAddress } from './stun-address';

/** open: no NAT (the mapping is the socket's own address); easy: endpoint-independent; hard: per destination; unknown: too few answers. */
export type NatType = 'open' | 'easy' | 'hard' | 'unknown';

export interface NatProbeAnswer {
  server: TransportAddress;
  /** The reflexive address this server saw, or null when it did not answer. */
  mapped: TransportAddress | null;
}

export interface NatClassification {
  type: NatType;
  /** One sentence saying what the answers showed. */
  reason: string;
}

/**
 * classifyNat: `local` lists the socket's own transport addresses (each local interface address
 * with the socket's port), so a mapping equal to one of them means no NAT.
 */
export function classifyNat(answers: readonly NatProbeAnswer[], local: readonly TransportAddress[] = []): NatClassification {
  const got = answers.filter((a): a is NatProbeAnswer & { mapped: TransportAddress } => a.mapped !== null);
  const servers = new Set(answers.map((a) => transportAddressText(a.server)));
  if (servers.size < 2) return { type: 'unknown', reason: 'classifying a NAT needs answers from two STUN server addresses; one was given' };
  if (got.length < 2) {
    return { type: 'unknown', reason: `${got.length} of ${answers.length} STUN servers answered; two answers are needed to compare mappings` };
  }
  const first = got[0]!.mapped;
  const same = got.every((a) => sameTransportAddress(a.mapped, first));
  if (!same) {
    return { type: 'hard', reason: `the mapping depends on the destination: ${got.map((a) => `${transportAddressText(a.server)} saw ${transportAddressText(a.mapped)}`).join(', ')}` };
  }
  if (local.some((l) => sameTransportAddress(l, first))) {
    return { type: 'open', reason: `no NAT: every server saw the socket's own address ${transportAddressText(first)}` };
  }
  return { type: 'easy', reason: `endpoint-independent mapping: ${got.length} servers all saw ${transportAddressText(first)}` };
}
