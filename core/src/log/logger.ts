/**
 * log: structured logs (pino) on stderr. Secrets are redacted by key name and never logged.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

const REDACT = [
  'privateKey',
  '*.privateKey',
  'authKey',
  '*.authKey',
  'token',
  '*.token',
  'adminToken',
  'headers.authorization',
  'req.headers.authorization',
];

/** createLogger makes the process logger; level from TRELLIS_LOG_LEVEL (default info). */
export function createLogger(name: string, level = process.env.TRELLIS_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, redact: { paths: REDACT, censor: '[redacted]' } }, pino.destination(2));
}
