import { randomBytes } from 'node:crypto';

/** newNodeId is a random, URL-safe, fixed-length node id ("n" + 16 hex), so ids sort uniformly. */
export function newNodeId(): string {
  return `n${randomBytes(8).toString('hex')}`;
}
