/**
 * auth: key material and request signatures. WireGuard keys are X25519, node identity keys are
 * Ed25519; both stay on the node that generated them and only public halves travel.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519';

export interface KeyPair {
  /** base64 of the raw 32-byte private key */
  privateKey: string;
  /** base64 of the raw 32-byte public key */
  publicKey: string;
}

function rawPair(type: 'x25519' | 'ed25519'): KeyPair {
  const { privateKey } = generateKeyPairSync(type as 'x25519');
  const jwk = privateKey.export({ format: 'jwk' }) as { d: string; x: string };
  return {
    privateKey: Buffer.from(jwk.d, 'base64url').toString('base64'),
    publicKey: Buffer.from(jwk.x, 'base64url').toString('base64'),
  };
}

/** generateWgKeyPair makes a WireGuard (X25519) key pair. */
export function generateWgKeyPair(): KeyPair {
  return rawPair('x25519');
}

/** generateIdentityKeyPair makes a node identity (Ed25519) key pair. */
export function generateIdentityKeyPair(): KeyPair {
  return rawPair('ed25519');
}

function okpKey(crv: 'X25519' | 'Ed25519', publicB64: string, privateB64?: string): KeyObject {
  const jwk: Record<string, string> = { kty: 'OKP', crv, x: Buffer.from(publicB64, 'base64').toString('base64url') };
  if (privateB64 !== undefined) {
    jwk.d = Buffer.from(privateB64, 'base64').toString('base64url');
    return createPrivateKey({ key: jwk, format: 'jwk' });
  }
  return createPublicKey({ key: jwk, format: 'jwk' });
}

/** wgPublicKeyFromPrivate derives the public half of a base64 X25519 private key. */
export function wgPublicKeyFromPrivate(privateB64: string): string {
  const d = Buffer.from(privateB64, 'base64');
  const key = createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), d]),
    format: 'der',
    type: 'pkcs8',
  });
  const jwk = createPublicKey(key).export({ format: 'jwk' }) as { x: string };
  return Buffer.from(jwk.x, 'base64url').toString('base64');
}

/** ed25519PrivateKey builds a signing key from base64 halves. */
export function ed25519PrivateKey(pair: KeyPair): KeyObject {
  return okpKey('Ed25519', pair.publicKey, pair.privateKey);
}

/** ed25519PublicKey builds a verification key from a base64 public key; throws if malformed. */
export function ed25519PublicKey(publicB64: string): KeyObject {
  return okpKey('Ed25519', publicB64);
}

/**
 * isEd25519PublicKey reports whether base64 s decodes to a point on the Ed25519 curve that is not
 * of small order. Node's key import accepts any 32 bytes, so the point is decoded with
 * @noble/curves (RFC 8032 5.1.3); about half of random strings are not points at all.
 */
export function isEd25519PublicKey(publicB64: string): boolean {
  if (!isKey32(publicB64)) return false;
  try {
    return !ed25519.ExtendedPoint.fromHex(Buffer.from(publicB64, 'base64')).isSmallOrder();
  } catch {
    return false;
  }
}

/** isKey32 reports whether s is base64 of exactly 32 bytes, the form of every Trellis key. */
export function isKey32(s: string): boolean {
  return /^[A-Za-z0-9+/]{43}=$/.test(s) && Buffer.from(s, 'base64').length === 32;
}

/** base64ToHex converts a key to the hex form that the UAPI protocol uses. */
export function base64ToHex(b64: string): string {
  return Buffer.from(b64, 'base64').toString('hex');
}

/** hexToBase64 converts a UAPI hex key back to base64. */
export function hexToBase64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}
