import { createServer, type Server } from 'node:https';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadControllerTls } from '../auth/controller-tls';
import { certificateFingerprint, tlsTrustFailure } from '../auth/controller-trust';
import { createCertificateAuthority, initControllerTls, parseSans } from '../auth/tls-certificates';
import { ErrorCode } from '../errors';
import { PINNED_CA_FILE, resolveControllerFetch } from './controller-pin';

let dir: string;
let server: Server;
let url: string;
let caFile: string;
let fingerprint: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-pin-'));
  const init = await initControllerTls(join(dir, 'ctl'), parseSans(''));
  const tls = loadControllerTls(join(dir, 'ctl'))!;
  caFile = init.files.caCert;
  fingerprint = init.caFingerprint;
  server = createServer({ key: tls.key, cert: tls.certChain }, (_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const log = pino({ level: 'silent' });
const stateDir = (name: string) => join(dir, name);

describe('resolveControllerFetch', () => {
  it('--ca pins that CA in the state dir, and later starts use the pin without flags', async () => {
    const f = await resolveControllerFetch({ controllerUrl: url, stateDir: stateDir('a'), ca: caFile }, log);
    expect(await (await f(`${url}/`)).text()).toBe('ok');
    expect(certificateFingerprint(readFileSync(join(stateDir('a'), PINNED_CA_FILE), 'utf8'))).toBe(fingerprint);
    const later = await resolveControllerFetch({ controllerUrl: url, stateDir: stateDir('a') }, log);
    expect((await later(`${url}/`)).status).toBe(200);
  });

  it('a wrong CA does not verify the controller: a TLS trust failure, not unreachable', async () => {
    const wrong = join(dir, 'wrong.crt');
    writeFileSync(wrong, (await createCertificateAuthority('someone else')).certPem);
    const f = await resolveControllerFetch({ controllerUrl: url, stateDir: stateDir('b'), ca: wrong }, log);
    const err = await f(`${url}/`).then(() => null, (e: unknown) => e);
    expect(tlsTrustFailure(err)).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
  });

  it('--ca-fingerprint is trusted on first use and pinned; another fingerprint later is refused', async () => {
    const f = await resolveControllerFetch({ controllerUrl: url, stateDir: stateDir('c'), caFingerprint: fingerprint }, log);
    expect((await f(`${url}/`)).status).toBe(200);
    expect(certificateFingerprint(readFileSync(join(stateDir('c'), PINNED_CA_FILE), 'utf8'))).toBe(fingerprint);
    await expect(resolveControllerFetch({ controllerUrl: url, stateDir: stateDir('c'), caFingerprint: `sha256:${'0'.repeat(64)}` }, log)).rejects.toMatchObject({
      code: ErrorCode.TLS_UNTRUSTED,
      message: expect.stringMatching(/pinned the CA sha256:/),
    });
    await expect(resolveControllerFetch({ controllerUrl: url, stateDir: stateDir('d'), caFingerprint: `sha256:${'0'.repeat(64)}` }, log)).rejects.toMatchObject({
      code: ErrorCode.TLS_UNTRUSTED,
      message: expect.stringMatching(/no certificate the controller presented has fingerprint/),
    });
    await expect(resolveControllerFetch({ controllerUrl: url, stateDir: stateDir('e'), caFingerprint: 'md5:abc' }, log)).rejects.toMatchObject({ code: ErrorCode.USAGE });
    await expect(resolveControllerFetch({ controllerUrl: url, stateDir: stateDir('f'), ca: caFile, caFingerprint: `sha256:${'1'.repeat(64)}` }, log)).rejects.toMatchObject({
      code: ErrorCode.TLS_UNTRUSTED,
    });
  });

  it('plain http is refused to a controller that is not on loopback unless insecure, with a warning', async () => {
    await expect(resolveControllerFetch({ controllerUrl: 'http://192.0.2.1:8080', stateDir: stateDir('g') }, log)).rejects.toMatchObject({ code: ErrorCode.INSECURE_TRANSPORT });
    const warnings: string[] = [];
    const warnLog = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    await resolveControllerFetch({ controllerUrl: 'http://192.0.2.1:8080', stateDir: stateDir('g'), insecure: true }, warnLog);
    expect(warnings.join('')).toMatch(/plain http \(--insecure\)/);
    await expect(resolveControllerFetch({ controllerUrl: 'http://127.0.0.1:8080', stateDir: stateDir('g') }, log)).resolves.toBeDefined();
    await expect(resolveControllerFetch({ controllerUrl: 'http://[::1]:8080', stateDir: stateDir('g') }, log)).resolves.toBeDefined();
  });
});
