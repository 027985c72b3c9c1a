import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, errors, TrellisError } from '../errors';
import type { Logger } from '../log/logger';
import type { ErrorBody } from '../wire';

/** The one place where error codes become HTTP statuses; a code not listed is a 500. */
export const HTTP_STATUS: Partial<Record<string, number>> = {
  [ErrorCode.BAD_REQUEST]: 400,
  [ErrorCode.CONFIG_INVALID]: 400,
  [ErrorCode.BODY_TOO_LARGE]: 413,
  [ErrorCode.UNSUPPORTED_MEDIA_TYPE]: 415,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.ENROLL_KEY_UNKNOWN]: 401,
  [ErrorCode.ENROLL_KEY_EXPIRED]: 401,
  [ErrorCode.ENROLL_KEY_USED]: 401,
  [ErrorCode.ENROLL_KEY_REVOKED]: 401,
  [ErrorCode.NAME_TAKEN]: 409,
  [ErrorCode.KEY_IN_USE]: 409,
  [ErrorCode.ADDRESS_POOL_EXHAUSTED]: 507,
  [ErrorCode.AUTH_MISSING]: 401,
  [ErrorCode.AUTH_BAD_SIGNATURE]: 401,
  [ErrorCode.AUTH_STALE]: 401,
  [ErrorCode.AUTH_REPLAY]: 401,
  [ErrorCode.AUTH_UNKNOWN_NODE]: 401,
  [ErrorCode.NODE_REVOKED]: 403,
  [ErrorCode.NODE_EXPIRED]: 403,
  [ErrorCode.IDENTITY_EXPIRED]: 403,
  [ErrorCode.NODE_NOT_LIVE]: 409,
  [ErrorCode.KEY_REVOKED]: 409,
  [ErrorCode.KEY_RETIRED]: 409,
  [ErrorCode.ROTATION_BUSY]: 409,
  [ErrorCode.ADMIN_UNAUTHORIZED]: 401,
  [ErrorCode.ALREADY_EXISTS]: 409,
  [ErrorCode.POLICY_ENGINE_MISSING]: 409,
  [ErrorCode.POLICY_NO_PREVIOUS]: 409,
  [ErrorCode.POLICY_COMPILE_FAILED]: 422,
  [ErrorCode.POLICY_TESTS_FAILED]: 422,
  [ErrorCode.POLICY_BUNDLE_INVALID]: 422,
  [ErrorCode.POLICY_DATA_INVALID]: 422,
  [ErrorCode.RATE_LIMITED]: 429,
  [ErrorCode.REQUEST_TIMEOUT]: 408,
  [ErrorCode.HEADERS_TOO_LARGE]: 431,
  [ErrorCode.ENROLL_PROOF_MISSING]: 401,
  [ErrorCode.ENROLL_PROOF_INVALID]: 401,
  [ErrorCode.AUTH_KEY_TTL_TOO_LONG]: 400,
  [ErrorCode.HISTORY_UNAVAILABLE]: 502,
  [ErrorCode.ROUTE_INVALID]: 400,
  [ErrorCode.ROUTE_CONFLICT]: 409,
  [ErrorCode.TOPOLOGY_INVALID]: 400,
};

/** statusFor maps a TrellisError code to its HTTP status. */
export function statusFor(code: string): number {
  return HTTP_STATUS[code] ?? 500;
}

export function errorBody(err: TrellisError): ErrorBody {
  return { error: { code: err.code, message: err.message } };
}

interface AjvLikeError {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

/** describeValidation names the field that failed, e.g. "body.name must match pattern ...". */
export function describeValidation(context: string, errs: AjvLikeError[]): string {
  const first = errs[0] ?? {};
  const path = (first.instancePath ?? '').split('/').filter(Boolean).join('.');
  const where = path ? `${context}.${path}` : context;
  const p = first.params ?? {};
  if (first.keyword === 'additionalProperties') return `${where} has unknown property "${String(p.additionalProperty)}"`;
  if (first.keyword === 'required') return `${where}.${String(p.missingProperty)} is required`;
  return `${where} ${first.message ?? 'is invalid'}`;
}

/** toTrellisError turns anything fastify or a handler throws into a catalogued error. */
export function toTrellisError(err: unknown, request: FastifyRequest): TrellisError {
  if (err instanceof TrellisError) return err;
  const fe = err as FastifyError & { validationContext?: string };
  if (Array.isArray(fe.validation)) return errors.badRequest(describeValidation(fe.validationContext ?? 'request', fe.validation as AjvLikeError[]));
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errors.bodyTooLarge(request.routeOptions.bodyLimit ?? 0);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return errors.unsupportedMediaType(String(request.headers['content-type'] ?? ''));
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return errors.badRequest('body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return errors.badRequest('content-length does not match the body');
    default:
      break;
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return errors.badRequest(fe.message);
  return errors.internal();
}

/** installErrorHandling makes every error and unknown route answer { error: { code, message } }. */
export function installErrorHandling(app: FastifyInstance, log: Logger): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const te = toTrellisError(err, request);
    const status = statusFor(te.code);
    if (status >= 500) log.error({ err, method: request.method, url: request.routeOptions.url, code: te.code }, 'request failed');
    else log.debug({ method: request.method, url: request.routeOptions.url, code: te.code }, 'request refused');
    void reply.code(status).type('application/json').send(errorBody(te));
  });
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    void reply.code(404).type('application/json').send(errorBody(errors.notFound(`route ${request.method} ${request.url.split('?')[0]}`)));
  });
}
