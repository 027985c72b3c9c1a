/**
 * The controller's TLS files in <data-dir>/tls (0700): ca.crt, ca.key, controller.crt, controller.key
 * (all 0600). `trellis controller init` makes them (tls-certificates.ts); the controller serves
 * TLS whenever they exist.
 */
import { existsSync, readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { errors } from '../errors';
import { certificateFingerprint } from './controller-trust';

export const TLS_DIR = 'tls';

export interface ControllerTlsFiles {
  dir: string;
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
}

export function controllerTlsFiles(dataDir: string): ControllerTlsFiles {
  const dir = join(dataDir, TLS_DIR);
  return { dir, caCert: join(dir, 'ca.crt'), caKey: join(dir, 'ca.key'), cert: join(dir, 'controller.crt'), key: join(dir, 'controller.key') };
}

export interface ControllerTls {
  /** PEM key of the controller certificate. */
  key: string;
  /** The controller certificate followed by the CA's, so clients pinning by fingerprint see the CA. */
  certChain: string;
  caPem: string;
  caFingerprint: string;
  /** The names the certificate covers, for messages. */
  subjectAltName: string;
  notAfter: string;
}

/** loadControllerTls reads the controller's TLS files, or returns null when init was never run. */
export function loadControllerTls(dataDir: string): ControllerTls | null {
  const f = controllerTlsFiles(dataDir);
  if (!existsSync(f.cert) && !existsSync(f.key)) return null;
  for (const file of [f.cert, f.key, f.caCert]) {
    if (!existsSync(file)) throw errors.tlsSetup(`${file} is missing; run \`trellis controller init --data-dir ${dataDir} --force\` to issue the controller certificate again`);
  }
  const cert = readFileSync(f.cert, 'utf8');
  const caPem = readFileSync(f.caCert, 'utf8');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
    if (!leaf.checkIssued(new X509Certificate(caPem))) throw new Error('it was not issued by ca.crt');
  } catch (err) {
    throw errors.tlsSetup(`${f.cert} is not a certificate of this controller's CA (${(err as Error).message}); reissue it with \`trellis controller init --force\``);
  }
  return {
    key: readFileSync(f.key, 'utf8'),
    certChain: `${cert.trimEnd()}\n${caPem.trimEnd()}\n`,
    caPem,
    caFingerprint: certificateFingerprint(caPem),
    subjectAltName: leaf.subjectAltName ?? '',
    notAfter: leaf.validTo,
  };
}
