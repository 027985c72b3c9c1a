import { promises as fs, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { wgPublicKeyFromPrivate } from '../auth/keys';
import { ErrorCode } from '../errors';
import { identityPath, loadIdentity, loadOrCreateIdentity, saveIdentity } from './identity';

describe('identity', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'trellis-id-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a 0600 identity with valid key pairs and returns the same one on the next start', async () => {
    const state = path.join(dir, 'state');
    const a = await loadOrCreateIdentity(state, 'alpha', 'http://127.0.0.1:1');
    expect(a.nodeId).toBeNull();
    expect(wgPublicKeyFromPrivate(a.wg.privateKey)).toBe(a.wg.publicKey);
    expect((await fs.stat(identityPath(state))).mode & 0o777).toBe(0o600);
    expect((await fs.stat(state)).mode & 0o777).toBe(0o700);
    await saveIdentity(state, { ...a, nodeId: 'n1' });
    const b = await loadOrCreateIdentity(state, 'alpha', 'http://127.0.0.1:1');
    expect(b).toEqual({ ...a, nodeId: 'n1' });
    expect(await fs.readdir(state)).toEqual(['identity.json']);
  });

  it('records when the WireGuard key was created, and reads older files without it as null', async () => {
    const before = Date.now();
    const a = await loadOrCreateIdentity(dir, 'alpha', 'http://127.0.0.1:1');
    expect(a.wgKeyCreatedAt).toBeGreaterThanOrEqual(before);
    expect((await loadIdentity(dir))?.wgKeyCreatedAt).toBe(a.wgKeyCreatedAt);
    const { wgKeyCreatedAt: _, ...old } = a;
    await fs.writeFile(identityPath(dir), JSON.stringify(old));
    expect((await loadIdentity(dir))?.wgKeyCreatedAt).toBeNull();
  });

  it('refuses a damaged identity file with a clear error instead of silently making a new node', async () => {
    await fs.writeFile(identityPath(dir), '{"name": "x"');
    await expect(loadIdentity(dir)).rejects.toMatchObject({ code: ErrorCode.CONFIG_INVALID });
    await fs.writeFile(identityPath(dir), JSON.stringify({ name: 'x', controllerUrl: 'u', nodeId: null, wg: { privateKey: 'short', publicKey: 'x' } }));
    await expect(loadIdentity(dir)).rejects.toThrow(/wg must hold base64 32-byte/);
  });
});
