import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import Ajv from 'ajv';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { errors } from '../errors';
import type { Logger } from '../log/logger';
import type { NodeRecord } from '../store/store';
import { errorBody, installErrorHandling, statusFor } from './http-errors';
import type { AbuseLimits } from './trust-settings';

declare module 'fastify' {
  interface FastifyRequest {
    /** The body bytes exactly as received; node signatures are verified over them. */
    rawBody: Buffer | null;
    /** The node a signed request was verified for. */
    node: NodeRecord | null;
    /** Set by a signed route before the body is read: checks the raw bytes before they are parsed. */
    beforeParse: ((raw: Buffer) => Promise<void>) | null;
  }
}

/** Bodies: strict (no coercion, no removal of unknown properties, so additionalProperties:false refuses them). */
const bodyAjv = new Ajv({ allErrors: false, coerceTypes: false, removeAdditional: false, useDefaults: false, strict: true });
/** Query strings and params arrive as text and are coerced. */
const textAjv = new Ajv({ allErrors: false, coerceTypes: true, removeAdditional: false, useDefaults: true, strict: true });

export interface HttpAppOptions {
  /** Serve TLS with this PEM key and certificate chain (controller certificate first, then the CA). */
  https?: { key: string; cert: string } | null;
  /** Slow-client and connection limits (TrustSettings.limits). */
  timeouts?: Pick<AbuseLimits, 'requestTimeoutMs' | 'headersTimeoutMs' | 'connectionTimeoutMs' | 'maxConnections'>;
}

/**
 * createHttpApp is the fastify instance with Trellis request handling: one JSON parser that keeps
 * the raw bytes, schema validation without silent fixes, and catalogued error bodies.
 */
export function createHttpApp(log: Logger, opts: HttpAppOptions = {}): FastifyInstance {
  const t = opts.timeouts;
  const app = Fastify({
    logger: false,
    return503OnClosing: true,
    forceCloseConnections: true,
    ...(opts.https ? { https: { key: opts.https.key, cert: opts.https.cert, minVersion: 'TLSv1.2' as const } } : {}),
    ...(t ? { requestTimeout: t.requestTimeoutMs, connectionTimeout: t.connectionTimeoutMs, keepAliveTimeout: 5000 } : {}),
    // A malformed URL or an overlong path segment is refused with the catalogued body too (found by fuzzing).
    frameworkErrors: (err: Error, _request: unknown, reply: FastifyReply) => {
      const te = (err as { code?: string }).code === 'FST_ERR_MAX_PARAM_LENGTH' ? errors.badRequest('a path segment is longer than 100 characters') : errors.badRequest(`the URL cannot be read (${err.message})`);
      void reply.code(400).type('application/json').send(errorBody(te));
    },
    // Errors the HTTP parser raises before fastify sees a request: the same catalogued bodies.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const te = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? errors.requestTimeout() : err.code === 'HPE_HEADER_OVERFLOW' ? errors.headersTooLarge() : errors.badRequest('the request is not valid HTTP');
      const status = statusFor(te.code);
      const body = JSON.stringify(errorBody(te));
      if (socket.writable) socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
      socket.destroy(err);
    },
  }) as unknown as FastifyInstance;
  if (t) {
    // Node refuses a headers timeout longer than the request timeout.
    app.server.headersTimeout = Math.min(t.headersTimeoutMs, t.requestTimeoutMs);
    app.server.maxConnections = t.maxConnections;
  }
  app.decorateRequest('rawBody', null);
  app.decorateRequest('node', null);
  app.decorateRequest('beforeParse', null);
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : textAjv).compile(schema));
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, async (request: FastifyRequest, body: Buffer | string) => {
    const raw = body as Buffer;
    request.rawBody = raw;
    if (request.beforeParse) await request.beforeParse(raw);
    if (raw.length === 0) return null;
    try {
      return JSON.parse(raw.toString('utf8')) as unknown;
    } catch (err) {
      throw errors.badRequest(`body is not valid JSON (${(err as Error).message})`);
    }
  });
  installErrorHandling(app, log);
  return app;
}
