/**
 * The controller's own Ed25519 signing key: it signs the audit chain's checkpoints. Made at
 * `trellis controller init` or the first start, kept in the data dir as signing.key (0600, both
 * halves) and signing.pub (the public half, for offline verification).
 */
import { sign } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errors } from '../errors';
import { ed25519PrivateKey, generateIdentityKeyPair, isKey32, type KeyPair } from './keys';

export const SIGNING_KEY_FILE = 'signing.key';
export const SIGNING_PUBLIC_KEY_FILE = 'signing.pub';

/** ControllerSigningKey signs with the private half, which never leaves this object or its file. */
export interface ControllerSigningKey {
  /** base64 of the raw 32-byte public key. */
  readonly publicKey: string;
  /** base64 signature over payload. */
  sign(payload: Buffer): string;
}

function fromPair(pair: KeyPair): ControllerSigningKey {
  const key = ed25519PrivateKey(pair);
  return { publicKey: pair.publicKey, sign: (payload) => sign(null, payload, key).toString('base64') };
}

/** loadOrCreateSigningKey reads the data dir's signing key, making it (0600) when there is none. */
export function loadOrCreateSigningKey(dataDir: string): ControllerSigningKey {
  const file = join(dataDir, SIGNING_KEY_FILE);
  if (existsSync(file)) {
    let pair: KeyPair;
    try {
      pair = JSON.parse(readFileSync(file, 'utf8')) as KeyPair;
    } catch (err) {
      throw errors.configInvalid(file, `is not the controller's signing key (${(err as Error).message}); restore it from a backup, or move it away to make a new one (older audit checkpoints then no longer verify)`);
    }
    if (!isKey32(pair.publicKey) || !isKey32(pair.privateKey)) {
      throw errors.configInvalid(file, 'does not hold base64 publicKey and privateKey of 32 bytes each; restore it from a backup');
    }
    chmodSync(file, 0o600);
    return fromPair(pair);
  }
  const pair = generateIdentityKeyPair();
  writeFileSync(file, JSON.stringify(pair) + '\n', { mode: 0o600, flag: 'wx' });
  writeFileSync(join(dataDir, SIGNING_PUBLIC_KEY_FILE), `${pair.publicKey}\n`, { mode: 0o644 });
  return fromPair(pair);
}

/** readSigningPublicKey reads the public half (signing.pub, else signing.key) for offline checks; null when neither is there. */
export function readSigningPublicKey(dataDir: string): string | null {
  const pub = join(dataDir, SIGNING_PUBLIC_KEY_FILE);
  if (existsSync(pub)) {
    const text = readFileSync(pub, 'utf8').trim();
    if (isKey32(text)) return text;
  }
  const file = join(dataDir, SIGNING_KEY_FILE);
  if (existsSync(file)) {
    try {
      const pair = JSON.parse(readFileSync(file, 'utf8')) as Partial<KeyPair>;
      if (typeof pair.publicKey === 'string' && isKey32(pair.publicKey)) return pair.publicKey;
    } catch {
      return null;
    }
  }
  return null;
}
