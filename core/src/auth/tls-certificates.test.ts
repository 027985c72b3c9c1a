import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '../errors';
import { controllerTlsFiles, loadControllerTls } from './controller-tls';
import { certificateFingerprint, normalizeFingerprint } from './controller-trust';
import { initControllerTls, parseSans } from './tls-certificates';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'trellis-tls-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const mode = (file: string) => statSync(file).mode & 0o777;

describe('controller init', () => {
  it('makes a CA and a controller certificate it issued, for the given names plus loopback, keys private', async () => {
    const r = await initControllerTls(dir, parseSans('ctl.example.com, 192.0.2.10,[2001:db8::1]'));
    const f = controllerTlsFiles(dir);
    expect(r.caCreated).toBe(true);
    expect(mode(f.dir)).toBe(0o700);
    expect(mode(f.caKey)).toBe(0o600);
    expect(mode(f.key)).toBe(0o600);
    expect(mode(f.caCert)).toBe(0o600);
    expect(mode(f.cert)).toBe(0o600);
    const ca = new X509Certificate(readFileSync(f.caCert));
    const leaf = new X509Certificate(readFileSync(f.cert));
    expect(ca.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(ca) && leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.subjectAltName).toBe('DNS:localhost, DNS:ctl.example.com, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:192.0.2.10, IP Address:2001:DB8:0:0:0:0:0:1');
    expect(leaf.checkHost('ctl.example.com')).toBe('ctl.example.com');
    expect(leaf.checkIP('192.0.2.10')).toBe('192.0.2.10');
    expect(leaf.checkHost('other.example.com')).toBeUndefined();
    expect(r.caFingerprint).toBe(certificateFingerprint(readFileSync(f.caCert, 'utf8')));
    expect(r.caFingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(normalizeFingerprint(r.caFingerprint.slice(7).toUpperCase().replace(/(..)(?!$)/g, '$1:'))).toBe(r.caFingerprint);

    const loaded = loadControllerTls(dir)!;
    expect(loaded.caFingerprint).toBe(r.caFingerprint);
    expect(loaded.certChain).toContain(readFileSync(f.cert, 'utf8').trim());
    expect(loaded.certChain).toContain(readFileSync(f.caCert, 'utf8').trim());
  });

  it('never replaces the CA: a second init is refused, --force reissues the certificate from the same CA', async () => {
    const first = await initControllerTls(dir, parseSans(''));
    const leaf1 = readFileSync(controllerTlsFiles(dir).cert, 'utf8');
    await expect(initControllerTls(dir, parseSans('ctl2'))).rejects.toMatchObject({ code: ErrorCode.TLS_SETUP, message: expect.stringMatching(/already exists; pass --force/) });
    expect(readFileSync(controllerTlsFiles(dir).cert, 'utf8')).toBe(leaf1);
    const again = await initControllerTls(dir, parseSans('ctl2'), true);
    expect(again.caCreated).toBe(false);
    expect(again.caFingerprint).toBe(first.caFingerprint);
    expect(new X509Certificate(readFileSync(controllerTlsFiles(dir).cert)).checkHost('ctl2')).toBe('ctl2');
  });

  it('refuses half a CA rather than making a new one, and a certificate another CA issued', async () => {
    await initControllerTls(dir, parseSans(''));
    const f = controllerTlsFiles(dir);
    const other = mkdtempSync(join(tmpdir(), 'trellis-tls-other-'));
    try {
      await initControllerTls(other, parseSans(''));
      // This controller's certificate replaced by one from another CA.
      copyFileSync(controllerTlsFiles(other).cert, f.cert);
      expect(() => loadControllerTls(dir)).toThrow(/not a certificate of this controller's CA/);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
    unlinkSync(f.caKey);
    await expect(initControllerTls(dir, parseSans(''), true)).rejects.toThrow(/only half of a CA/);
  });

  it('names a bad --san entry; no TLS files means plain http', () => {
    expect(() => parseSans('ok.example.com,bad name')).toThrow(/"bad name" is neither an IP address nor a host name/);
    expect(() => parseSans('-leading.example')).toThrow(/neither/);
    expect(parseSans('')).toEqual({ dns: ['localhost'], ips: ['127.0.0.1', '::1'] });
    expect(loadControllerTls(dir)).toBeNull();
  });
});
