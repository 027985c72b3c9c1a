/**
 * What the controller stores of a node's endpoints report: its candidates, checked (candidate
 * version 2), or, from a version-1 agent, its addresses as local candidates learned when the
 * controller first heard them. A malformed report is refused whole with the entry that is wrong,
 * before anything is stored.
 */
import { errors } from '../errors';
import type { EndpointCandidate, PeerNode } from '../netmap/types';
import type { NodeRecord } from '../store/store';
import { canonicalEndpoint } from '../wg/cidr';
import type { EndpointsRequest } from '../wire';

/** A candidate learned further ahead of the controller's clock than this is refused (a broken clock). */
export const MAX_CLOCK_AHEAD_MS = 24 * 3_600_000;

/** canonicalEndpoints validates reported endpoints, naming the bad entry. */
export function canonicalEndpoints(list: readonly string[], field: string): string[] {
  return list.map((ep, i) => {
    try {
      return canonicalEndpoint(ep, `${field}[${i}]`);
    } catch {
      throw errors.badRequest(`${field}[${i}] "${ep}" is not ip:port or [ipv6]:port with a port in 1..65535`);
    }
  });
}

/**
 * reportedCandidates checks a report and gives what to store: the endpoints (addresses, best first)
 * and their candidates. Version 2: every candidate's address canonical, none twice, learnedAt not
 * in the future, and endpoints the candidates' addresses in order. Version 1: the addresses as
 * local candidates, keeping learnedAt of those the node reported before (and, when the addresses
 * are the ones stored, the stored candidates as they are: null stays null).
 */
export function reportedCandidates(body: EndpointsRequest, previous: NodeRecord | null, now: number): { endpoints: string[]; candidates: EndpointCandidate[] | null } {
  const endpoints = canonicalEndpoints(body.endpoints, 'body.endpoints');
  if (body.candidates === undefined) {
    // The same addresses again (a heartbeat): what is stored stays, so nothing changes.
    if (previous && previous.endpoints.length === endpoints.length && previous.endpoints.every((e, i) => e === endpoints[i])) return { endpoints, candidates: previous.candidates ?? null };
    const before = new Map((previous ? candidatesOf(previous) : []).map((c) => [c.address, c]));
    return { endpoints, candidates: endpoints.map((address) => ({ kind: 'local', address, learnedAt: before.get(address)?.learnedAt ?? now })) };
  }
  const seen = new Set<string>();
  const candidates = body.candidates.map((c, i): EndpointCandidate => {
    const where = `body.candidates[${i}]`;
    let address: string;
    try {
      address = canonicalEndpoint(c.address, `${where}.address`);
    } catch {
      throw errors.badRequest(`${where}.address "${c.address}" is not ip:port or [ipv6]:port with a port in 1..65535`);
    }
    if (seen.has(address)) throw errors.badRequest(`${where}.address ${address} is listed twice; report each address once`);
    seen.add(address);
    if (c.learnedAt > now + MAX_CLOCK_AHEAD_MS) {
      throw errors.badRequest(`${where}.learnedAt ${c.learnedAt} is ${Math.round((c.learnedAt - now) / 3_600_000)} h ahead of the controller's clock; fix the node's clock`);
    }
    return { kind: c.kind, address, learnedAt: c.learnedAt, ...(c.source !== undefined ? { source: c.source } : {}) };
  });
  if (candidates.length !== endpoints.length || candidates.some((c, i) => c.address !== endpoints[i])) {
    throw errors.badRequest(`body.endpoints [${endpoints.join(', ')}] must be the addresses of body.candidates in the same order [${candidates.map((c) => c.address).join(', ')}]`);
  }
  return { endpoints, candidates };
}

/**
 * candidatesOf is a stored node's candidates: those it reported when they still match its
 * endpoints, else its endpoints as local candidates learned at enrolment (a node that reported
 * addresses only, before candidates were stored).
 */
export function candidatesOf(node: NodeRecord): EndpointCandidate[] {
  const c = node.candidates;
  if (c && c.length === node.endpoints.length && c.every((x, i) => x.address === node.endpoints[i])) return c;
  return node.endpoints.map((address) => ({ kind: 'local', address, learnedAt: node.createdAt }));
}

/** sameCandidates compares two entries' candidates field by field. */
export function sameCandidates(a: PeerNode['candidates'], b: PeerNode['candidates']): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i]!;
    return x.kind === y.kind && x.address === y.address && x.learnedAt === y.learnedAt && x.source === y.source;
  });
}
