/**
 * The controller serves https once `controller init` made its certificate, and refuses plain http
 * on an address that is not loopback unless told --insecure.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { trustingFetch } from '../auth/controller-trust';
import { initControllerTls, parseSans } from '../auth/tls-certificates';
import { ErrorCode } from '../errors';
import { startController, type RunningController } from './controller';

let dir: string;
const log = pino({ level: 'silent' });
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'trellis-ctl-tls-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('with a certificate it serves https, which verifies against its CA only', async () => {
  const init = await initControllerTls(join(dir, 'data'), parseSans(''));
  const c: RunningController = await startController({ listen: '127.0.0.1:0', dataDir: join(dir, 'data'), log });
  try {
    expect(c.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(c.tls?.caFingerprint).toBe(init.caFingerprint);
    const trusted = trustingFetch(readFileSync(init.files.caCert, 'utf8'));
    expect((await trusted(`${c.url}/healthz`)).status).toBe(200);
    // The system's CAs do not know it.
    await expect(fetch(`${c.url}/healthz`)).rejects.toThrow();
    // Nor does plain http on the same port.
    await expect(fetch(c.url.replace('https:', 'http:') + '/healthz', { signal: AbortSignal.timeout(3000) }).then((r) => r.status)).rejects.toThrow();
  } finally {
    await c.close();
  }
}, 30_000);

test('without a certificate, plain http on a non-loopback address is refused unless insecure', async () => {
  await expect(startController({ listen: '0.0.0.0:0', dataDir: join(dir, 'data'), log })).rejects.toMatchObject({
    code: ErrorCode.INSECURE_TRANSPORT,
    message: expect.stringMatching(/trellis controller init --data-dir .* --san/),
  });
  const c = await startController({ listen: '0.0.0.0:0', dataDir: join(dir, 'data'), log, insecure: true });
  try {
    expect(c.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(c.tls).toBeNull();
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
  } finally {
    await c.close();
  }
  // Loopback needs neither.
  const local = await startController({ listen: '127.0.0.1:0', dataDir: join(dir, 'data'), log });
  await local.close();
}, 30_000);
