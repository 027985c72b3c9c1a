import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { generateIdentityKeyPair, generateWgKeyPair, isKey32, type KeyPair } from '../auth/keys';
import { errors } from '../errors';
import { writeFileAtomic } from './atomic-file';

/**
 * NodeIdentity is everything that makes this node itself across restarts. The private halves are
 * generated here and never leave the node: only public keys go to the controller.
 */
export interface NodeIdentity {
  version: 1;
  /** Assigned by the controller at enrollment; null until then. */
  nodeId: string | null;
  name: string;
  controllerUrl: string;
  /** X25519 WireGuard key pair. */
  wg: KeyPair;
  /** Ed25519 key pair that signs controller requests. */
  identity: KeyPair;
  /** Overlay addresses assigned at enrollment. */
  addresses: { ipv4: string; ipv6: string } | null;
  enrolledAt: number | null;
  /** Unix ms when the WireGuard key pair was generated; null for identities written before it was recorded. */
  wgKeyCreatedAt?: number | null;
  /**
   * A WireGuard key pair made for a rotation that the controller has not confirmed yet (the device
   * may already use it). After a crash, the key the controller holds decides which pair stays.
   */
  pendingWg?: PendingWgKey | null;
  /** A new identity key pair offered in a renewal the controller has not confirmed yet. */
  pendingIdentity?: KeyPair | null;
}

export interface PendingWgKey extends KeyPair {
  createdAt: number;
  reason: 'scheduled' | 'requested';
}

export const IDENTITY_FILE = 'identity.json';

export function identityPath(stateDir: string): string {
  return path.join(stateDir, IDENTITY_FILE);
}

function checkPair(file: string, field: string, v: unknown): KeyPair {
  const p = v as Partial<KeyPair> | null;
  if (!p || typeof p.privateKey !== 'string' || typeof p.publicKey !== 'string' || !isKey32(p.privateKey) || !isKey32(p.publicKey)) {
    throw errors.configInvalid(file, `${field} must hold base64 32-byte privateKey and publicKey; move the file away to start as a new node`);
  }
  return { privateKey: p.privateKey, publicKey: p.publicKey };
}

/** loadIdentity reads <stateDir>/identity.json, or returns null when there is none yet. */
export async function loadIdentity(stateDir: string): Promise<NodeIdentity | null> {
  const file = identityPath(stateDir);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw errors.configInvalid(file, 'is not valid JSON; move the file away to start as a new node');
  }
  if (typeof raw.name !== 'string' || typeof raw.controllerUrl !== 'string') {
    throw errors.configInvalid(file, 'name and controllerUrl must be strings');
  }
  if (raw.nodeId !== null && typeof raw.nodeId !== 'string') throw errors.configInvalid(file, 'nodeId must be a string or null');
  const addr = raw.addresses as { ipv4?: unknown; ipv6?: unknown } | null | undefined;
  return {
    version: 1,
    nodeId: (raw.nodeId as string | null) ?? null,
    name: raw.name,
    controllerUrl: raw.controllerUrl,
    wg: checkPair(file, 'wg', raw.wg),
    identity: checkPair(file, 'identity', raw.identity),
    addresses: addr && typeof addr.ipv4 === 'string' && typeof addr.ipv6 === 'string' ? { ipv4: addr.ipv4, ipv6: addr.ipv6 } : null,
    enrolledAt: typeof raw.enrolledAt === 'number' ? raw.enrolledAt : null,
    wgKeyCreatedAt: typeof raw.wgKeyCreatedAt === 'number' ? raw.wgKeyCreatedAt : null,
    // Present only while a rotation or renewal is unsettled.
    ...(raw.pendingWg != null ? { pendingWg: checkPendingWg(file, raw.pendingWg) } : {}),
    ...(raw.pendingIdentity != null ? { pendingIdentity: checkPair(file, 'pendingIdentity', raw.pendingIdentity) } : {}),
  };
}

function checkPendingWg(file: string, v: unknown): PendingWgKey {
  const pair = checkPair(file, 'pendingWg', v);
  const o = v as { createdAt?: unknown; reason?: unknown };
  if (typeof o.createdAt !== 'number' || (o.reason !== 'scheduled' && o.reason !== 'requested')) {
    throw errors.configInvalid(file, 'pendingWg must hold createdAt (Unix ms) and reason (scheduled or requested); move the file away to start as a new node');
  }
  return { ...pair, createdAt: o.createdAt, reason: o.reason };
}

/** saveIdentity writes identity.json atomically with mode 0600 (it holds private keys). */
export async function saveIdentity(stateDir: string, id: NodeIdentity): Promise<void> {
  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  // Pending pairs are written only while a rotation or renewal is unsettled.
  const { pendingWg, pendingIdentity, ...rest } = id;
  const doc = { ...rest, ...(pendingWg ? { pendingWg } : {}), ...(pendingIdentity ? { pendingIdentity } : {}) };
  await writeFileAtomic(identityPath(stateDir), JSON.stringify(doc, null, 2) + '\n', 0o600);
}

/** newIdentity makes fresh key pairs for a node that is not enrolled yet. */
export function newIdentity(name: string, controllerUrl: string): NodeIdentity {
  return {
    version: 1,
    nodeId: null,
    name,
    controllerUrl,
    wg: generateWgKeyPair(),
    identity: generateIdentityKeyPair(),
    addresses: null,
    enrolledAt: null,
    wgKeyCreatedAt: Date.now(),
  };
}

/**
 * loadOrCreateIdentity returns the stored identity, or creates, saves and returns a new one.
 * A stored identity keeps its keys; a changed name or controller URL is updated in place.
 */
export async function loadOrCreateIdentity(stateDir: string, name: string, controllerUrl: string): Promise<NodeIdentity> {
  const stored = await loadIdentity(stateDir);
  if (stored) {
    if (stored.controllerUrl !== controllerUrl || (stored.nodeId === null && stored.name !== name)) {
      const updated = { ...stored, controllerUrl, name: stored.nodeId === null ? name : stored.name };
      await saveIdentity(stateDir, updated);
      return updated;
    }
    return stored;
  }
  const created = newIdentity(name, controllerUrl);
  await saveIdentity(stateDir, created);
  return created;
}
