import Ajv from 'ajv';
import Fastify, { type FastifyInstance } from 'fastify';
import { errors } from '../errors';
import type { Logger } from '../log/logger';
import type { NodeRecord } from '../store/store';
import { installErrorHandling } from './http-errors';

declare module 'fastify' {
  interface FastifyRequest {
    /** The body bytes exactly as received; node signatures are verified over them. */
    rawBody: Buffer | null;
    /** The node a signed request was verified for. */
    node: NodeRecord | null;
  }
}

/** Bodies: strict (no coercion, no removal of unknown properties, so additionalProperties:false refuses them). */
const bodyAjv = new Ajv({ allErrors: false, coerceTypes: false, removeAdditional: false, useDefaults: false, strict: true });
/** Query strings and params arrive as text and are coerced. */
const textAjv = new Ajv({ allErrors: false, coerceTypes: true, removeAdditional: false, useDefaults: true, strict: true });

/**
 * createHttpApp is the fastify instance with Trellis request handling: one JSON parser that keeps
 * the raw bytes, schema validation without silent fixes, and catalogued error bodies.
 */
export function createHttpApp(log: Logger): FastifyInstance {
  const app = Fastify({ logger: false, return503OnClosing: true, forceCloseConnections: true });
  app.decorateRequest('rawBody', null);
  app.decorateRequest('node', null);
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : textAjv).compile(schema));
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const raw = body as Buffer;
    request.rawBody = raw;
    if (raw.length === 0) return done(null, null);
    try {
      done(null, JSON.parse(raw.toString('utf8')));
    } catch (err) {
      done(errors.badRequest(`body is not valid JSON (${(err as Error).message})`), undefined);
    }
  });
  installErrorHandling(app, log);
  return app;
}
