/**
 * The metrics-otlp error catalogue: one factory per code, each naming what was wrong and what to do.
 */
import { TrellisError } from '@trellis/core/api';

export const OtlpErrorCode = {
  CONFIG_INVALID: 'TRELLIS_ERR_OTLP_CONFIG_INVALID',
  EXPORT_FAILED: 'TRELLIS_ERR_OTLP_EXPORT_FAILED',
} as const;
export type OtlpErrorCode = (typeof OtlpErrorCode)[keyof typeof OtlpErrorCode];

export const otlpErrors = {
  configInvalid: (field: string, what: string) =>
    new TrellisError(OtlpErrorCode.CONFIG_INVALID, `metrics-otlp config "${field}" is invalid: ${what}`, { field }),
  exportFailed: (url: string, why: string) =>
    new TrellisError(
      OtlpErrorCode.EXPORT_FAILED,
      `OTLP export to ${url} failed (${why}); check "url" (e.g. http://127.0.0.1:4318/v1/metrics) and that the collector is running`,
      { url },
    ),
};
