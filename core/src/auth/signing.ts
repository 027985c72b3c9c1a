import { createHash, randomBytes, sign, verify, type KeyObject } from 'node:crypto';

/** Headers of a signed node request. */
export const SIG_HEADERS = {
  node: 'x-trellis-node',
  timestamp: 'x-trellis-timestamp',
  nonce: 'x-trellis-nonce',
  signature: 'x-trellis-signature',
} as const;

/** How far a request's timestamp may be from the controller's clock. */
export const SIGNATURE_MAX_SKEW_MS = 60_000;

/** canonicalRequest is the exact byte string a node signs. */
export function canonicalRequest(method: string, pathAndQuery: string, timestamp: string, nonce: string, body: Buffer | string): string {
  const digest = createHash('sha256').update(body).digest('hex');
  return `TRELLIS-SIG-V1\n${method.toUpperCase()}\n${pathAndQuery}\n${timestamp}\n${nonce}\n${digest}`;
}

/** signRequest returns the headers that authenticate one request as nodeId. */
export function signRequest(
  key: KeyObject,
  nodeId: string,
  method: string,
  pathAndQuery: string,
  body: Buffer | string,
  now: number = Date.now(),
): Record<string, string> {
  const timestamp = String(now);
  const nonce = randomBytes(16).toString('hex');
  const sig = sign(null, Buffer.from(canonicalRequest(method, pathAndQuery, timestamp, nonce, body)), key);
  return {
    [SIG_HEADERS.node]: nodeId,
    [SIG_HEADERS.timestamp]: timestamp,
    [SIG_HEADERS.nonce]: nonce,
    [SIG_HEADERS.signature]: sig.toString('base64'),
  };
}

/**
 * signPossession returns the headers that prove possession of an identity key on a request made
 * before the node has an id (enrolment): the same signature as signRequest, without x-trellis-node.
 */
export function signPossession(key: KeyObject, method: string, pathAndQuery: string, body: Buffer | string, now: number = Date.now()): Record<string, string> {
  const headers = signRequest(key, '', method, pathAndQuery, body, now);
  delete headers[SIG_HEADERS.node];
  return headers;
}

/** verifySignature checks only the cryptography; freshness and replay are the caller's job. */
export function verifySignature(
  key: KeyObject,
  method: string,
  pathAndQuery: string,
  timestamp: string,
  nonce: string,
  body: Buffer | string,
  signatureB64: string,
): boolean {
  const sig = Buffer.from(signatureB64, 'base64');
  if (sig.length !== 64) return false;
  return verify(null, Buffer.from(canonicalRequest(method, pathAndQuery, timestamp, nonce, body)), key, sig);
}

/**
 * identityRenewalMessage is what a node signs with its new identity key when renewing, so the
 * controller only ever registers a key whose private half the node holds.
 */
export function identityRenewalMessage(nodeId: string, oldIdentityKey: string, newIdentityKey: string): Buffer {
  return Buffer.from(`TRELLIS-IDENTITY-RENEW-V1\n${nodeId}\n${oldIdentityKey}\n${newIdentityKey}`);
}

/** identityRenewalProof signs identityRenewalMessage with the new key; base64. */
export function identityRenewalProof(newKey: KeyObject, nodeId: string, oldIdentityKey: string, newIdentityKey: string): string {
  return sign(null, identityRenewalMessage(nodeId, oldIdentityKey, newIdentityKey), newKey).toString('base64');
}

/** verifyIdentityRenewalProof checks a renewal proof against the new public key. */
export function verifyIdentityRenewalProof(newPublicKey: KeyObject, nodeId: string, oldIdentityKey: string, newIdentityKey: string, proofB64: string): boolean {
  const sig = Buffer.from(proofB64, 'base64');
  if (sig.length !== 64) return false;
  return verify(null, identityRenewalMessage(nodeId, oldIdentityKey, newIdentityKey), newPublicKey, sig);
}
