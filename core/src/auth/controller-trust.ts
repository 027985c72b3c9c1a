/**
 * How clients (agents, the admin CLI, the lab) trust a controller: https verified against a pinned
 * CA (a PEM file, or one fetched once and checked against the fingerprint `controller init`
 * printed), or the system's CAs when nothing is pinned; plain http only to a loopback address, or
 * with an explicit --insecure.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { checkServerIdentity, connect, type DetailedPeerCertificate } from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';
import { errors } from '../errors';

/** isLoopbackHost: localhost, 127.0.0.0/8 or ::1 (as a URL's hostname gives them). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
}

/**
 * checkTransport refuses plain http to a controller that is not on loopback unless insecure was
 * asked for; it returns the warning to log when it was.
 */
export function checkTransport(url: string, insecure: boolean): string | null {
  const u = new URL(url);
  if (u.protocol !== 'http:' || isLoopbackHost(u.hostname)) return null;
  if (!insecure) throw errors.insecureTransport(url);
  return `talking to the controller at ${url} over plain http (--insecure): anyone on the path can read auth keys and forge network maps`;
}

/** The TLS errors that mean "not trusted" rather than "not reachable". */
const TLS_TRUST_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** tlsTrustFailure names the TLS trust error inside a fetch failure, or returns null for anything else. */
export function tlsTrustFailure(err: unknown): string | null {
  // Not instanceof Error: fetch's errors may come from another realm (a vm context, a test runner).
  for (let e: unknown = err, depth = 0; typeof e === 'object' && e !== null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && TLS_TRUST_CODES.has(code)) return `${code}: ${String(message)}`;
  }
  return null;
}

/**
 * trustingFetch is a fetch that verifies https servers against caPem only (null: the system's
 * CAs, through the global fetch). One connection pool per CA.
 */
export function trustingFetch(caPem: string | null): typeof fetch {
  if (caPem === null) return fetch;
  const dispatcher = new Agent({ connect: { ca: caPem }, keepAliveTimeout: 10_000 });
  return ((input: Parameters<typeof fetch>[0], init?: RequestInit) => undiciFetch(input as never, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch;
}

/** fingerprintOf is "sha256:" + the hex SHA-256 of a DER certificate. */
const fingerprintOf = (der: Buffer) => `sha256:${createHash('sha256').update(der).digest('hex')}`;

/**
 * fetchCaByFingerprint is trust on first use: it connects to the controller without verifying,
 * finds the certificate in the chain it presents whose fingerprint is `fingerprint`, and checks
 * that it is a CA, that it issued the controller's certificate, and that this certificate names the
 * host. It returns the CA as PEM, for the caller to pin.
 */
export async function fetchCaByFingerprint(url: string, fingerprint: string, timeoutMs = 10_000): Promise<string> {
  const u = new URL(url);
  if (u.protocol !== 'https:') throw errors.tlsUntrusted(url, '--ca-fingerprint needs an https:// controller URL');
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(u.port || 443);
  const peer = await new Promise<DetailedPeerCertificate>((resolve, reject) => {
    const socket = connect({ host, port, servername: isIP(host) ? undefined : host, rejectUnauthorized: false, timeout: timeoutMs }, () => {
      const cert = socket.getPeerCertificate(true);
      socket.end();
      resolve(cert);
    });
    socket.on('timeout', () => {
      socket.destroy();
      reject(errors.controllerUnreachable(url, `no TLS handshake within ${timeoutMs} ms`));
    });
    socket.on('error', (err) => reject(errors.controllerUnreachable(url, (err as NodeJS.ErrnoException).code ?? err.message)));
  });
  if (!peer || !peer.raw) throw errors.tlsUntrusted(url, 'the controller presented no certificate');
  const chain: DetailedPeerCertificate[] = [];
  for (let c: DetailedPeerCertificate | undefined = peer; c && c.raw && !chain.includes(c); c = c.issuerCertificate) chain.push(c);
  const match = chain.find((c) => fingerprintOf(c.raw) === fingerprint);
  if (!match) {
    throw errors.tlsUntrusted(url, `no certificate the controller presented has fingerprint ${fingerprint} (it presented ${chain.map((c) => fingerprintOf(c.raw)).join(', ')}); someone may be in the middle, or the fingerprint is of another controller`);
  }
  const ca = new X509Certificate(match.raw);
  const leaf = new X509Certificate(peer.raw);
  if (!ca.ca) throw errors.tlsUntrusted(url, `the certificate with fingerprint ${fingerprint} is not a CA; pass the CA fingerprint \`trellis controller init\` printed`);
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) throw errors.tlsUntrusted(url, `the controller's certificate was not issued by the CA with fingerprint ${fingerprint}`);
  const mismatch = checkServerIdentity(host, peer);
  if (mismatch) throw errors.tlsUntrusted(url, `the controller's certificate does not name ${host} (${mismatch.message}); reissue it with \`trellis controller init --san ${host} --force\``);
  return ca.toString();
}

/** parseCaPem checks a PEM certificate to pin, naming where it came from when it is not one. */
export function parseCaPem(pem: string, where: string): string {
  try {
    return new X509Certificate(pem).toString();
  } catch (err) {
    throw errors.tlsSetup(`${where} is not a PEM certificate (${(err as Error).message}); pass the controller's ca.crt`);
  }
}

/** certificateFingerprint is "sha256:" + the hex SHA-256 of a PEM certificate's DER (what `controller init` prints). */
export function certificateFingerprint(pem: string): string {
  return fingerprintOf(new X509Certificate(pem).raw);
}

/** normalizeFingerprint accepts sha256:hex, bare hex or colon-separated hex, and returns sha256:hex; null when it is none of them. */
export function normalizeFingerprint(text: string): string | null {
  const hex = text.trim().replace(/^sha256:/i, '').replace(/:/g, '').toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? `sha256:${hex}` : null;
}

/** spkiSha256 is the base64 SHA-256 of a certificate's public key (what Chromium's --ignore-certificate-errors-spki-list takes). */
export function spkiSha256(pem: string): string {
  const der = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}
