/**
 * The controller's X.509 material, made with @peculiar/x509 on Node's WebCrypto (ECDSA P-256,
 * which every TLS client takes): a CA that signs nothing but controller certificates, and the
 * controller's server certificate with its names and addresses as SANs. Only `controller init`
 * loads this module; clients need controller-trust.ts alone.
 */
import 'reflect-metadata';
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { errors } from '../errors';
import { certificateFingerprint } from './controller-trust';
import { controllerTlsFiles, type ControllerTlsFiles } from './controller-tls';

x509.cryptoProvider.set(webcrypto as never);

type Key = webcrypto.CryptoKey;
type KeyPair = webcrypto.CryptoKeyPair;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;
/** The CA lives ten years; a controller certificate about two (re-issue with `controller init --force`). */
const CA_DAYS = 3650;
const CERT_DAYS = 825;

export interface PemPair {
  certPem: string;
  keyPem: string;
}

const serial = () => randomBytes(16).toString('hex').replace(/^[89a-f]/, (c) => (parseInt(c, 16) - 8).toString(16));

async function keyPem(key: Key): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }) as string;
}

async function importPair(pair: PemPair): Promise<{ cert: x509.X509Certificate; keys: KeyPair }> {
  const cert = new x509.X509Certificate(pair.certPem);
  const der = createPrivateKey(pair.keyPem).export({ format: 'der', type: 'pkcs8' });
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, ALG, false, ['sign']);
  return { cert, keys: { privateKey, publicKey: (await cert.publicKey.export(ALG, ['verify'])) as unknown as Key } };
}

/** createCertificateAuthority makes a new self-signed CA, allowed to sign end-entity certificates only. */
export async function createCertificateAuthority(commonName = 'Trellis controller CA'): Promise<PemPair> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as KeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName.replace(/[,=+<>#;"\\]/g, ' ')}`,
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(now + CA_DAYS * DAY),
    keys: keys as never,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await keyPem(keys.privateKey) };
}

/** SubjectAltNames of a controller certificate: names and IP addresses. */
export interface ControllerNames {
  dns: string[];
  ips: string[];
}

/** The names every controller certificate carries, so local clients always verify. */
export const DEFAULT_SANS: ControllerNames = { dns: ['localhost'], ips: ['127.0.0.1', '::1'] };

const DNS_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** parseSans reads "host,ip,..." into names and addresses (plus the defaults), naming a bad entry. */
export function parseSans(list: string): ControllerNames {
  const out: ControllerNames = { dns: [...DEFAULT_SANS.dns], ips: [...DEFAULT_SANS.ips] };
  for (const raw of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const v = raw.replace(/^\[(.*)\]$/, '$1');
    if (isIP(v)) {
      if (!out.ips.includes(v)) out.ips.push(v);
    } else if (DNS_NAME.test(v) && v.length <= 253) {
      if (!out.dns.includes(v.toLowerCase())) out.dns.push(v.toLowerCase());
    } else {
      throw errors.tlsSetup(`"${raw}" is neither an IP address nor a host name; --san takes names and addresses separated by commas, e.g. ctl.example.com,192.0.2.10`);
    }
  }
  return out;
}

/** issueControllerCertificate makes the controller's server certificate, signed by the CA. */
export async function issueControllerCertificate(ca: PemPair, names: ControllerNames): Promise<PemPair> {
  const { cert: caCert, keys: caKeys } = await importPair(ca);
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as KeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${names.dns.find((d) => d !== 'localhost') ?? names.ips.find((i) => i !== '127.0.0.1' && i !== '::1') ?? 'trellis-controller'}`,
    issuer: caCert.subject,
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(Math.min(now + CERT_DAYS * DAY, caCert.notAfter.getTime())),
    signingKey: caKeys.privateKey as never,
    publicKey: keys.publicKey as never,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([...names.dns.map((value) => ({ type: 'dns' as const, value })), ...names.ips.map((value) => ({ type: 'ip' as const, value }))]),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey as never),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await keyPem(keys.privateKey) };
}

export interface InitResult {
  files: ControllerTlsFiles;
  caFingerprint: string;
  /** False when an existing CA was kept. */
  caCreated: boolean;
  names: ControllerNames;
}

/**
 * initControllerTls makes the CA (unless one exists) and a controller certificate for names, in
 * <data-dir>/tls. An existing controller certificate is kept unless force; an existing CA is never
 * replaced: agents pinned it, and a new one would cut them all off.
 */
export async function initControllerTls(dataDir: string, names: ControllerNames, force = false): Promise<InitResult> {
  const f = controllerTlsFiles(dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  mkdirSync(f.dir, { recursive: true, mode: 0o700 });
  chmodSync(f.dir, 0o700);
  if (existsSync(f.cert) && !force) {
    throw errors.tlsSetup(`${f.cert} already exists; pass --force to issue a new controller certificate (the CA stays, so agents keep trusting it)`);
  }
  let caCreated = false;
  if (!existsSync(f.caKey) || !existsSync(f.caCert)) {
    if (existsSync(f.caKey) !== existsSync(f.caCert)) {
      throw errors.tlsSetup(`${f.dir} holds only half of a CA (ca.crt or ca.key is missing); restore the missing file from a backup, Trellis will not replace a CA agents may have pinned`);
    }
    const ca = await createCertificateAuthority();
    writeFileSync(f.caKey, ca.keyPem, { mode: 0o600, flag: 'wx' });
    writeFileSync(f.caCert, ca.certPem, { mode: 0o600, flag: 'wx' });
    caCreated = true;
  }
  const ca = { certPem: readFileSync(f.caCert, 'utf8'), keyPem: readFileSync(f.caKey, 'utf8') };
  const leaf = await issueControllerCertificate(ca, names);
  writeFileSync(f.key, leaf.keyPem, { mode: 0o600 });
  chmodSync(f.key, 0o600);
  writeFileSync(f.cert, leaf.certPem, { mode: 0o600 });
  chmodSync(f.cert, 0o600);
  return { files: f, caFingerprint: certificateFingerprint(ca.certPem), caCreated, names };
}
