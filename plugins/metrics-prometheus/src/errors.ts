/**
 * The metrics-prometheus error catalogue: one factory per code, each naming what was wrong and what to do.
 */
import { TrellisError } from '@trellis/core/api';

export const PrometheusErrorCode = {
  LISTEN_INVALID: 'TRELLIS_ERR_PROMETHEUS_LISTEN_INVALID',
  LISTEN_FAILED: 'TRELLIS_ERR_PROMETHEUS_LISTEN_FAILED',
  COLLECT_FAILED: 'TRELLIS_ERR_PROMETHEUS_COLLECT_FAILED',
} as const;
export type PrometheusErrorCode = (typeof PrometheusErrorCode)[keyof typeof PrometheusErrorCode];

export const prometheusErrors = {
  listenInvalid: (listen: string) =>
    new TrellisError(PrometheusErrorCode.LISTEN_INVALID, `listen "${listen}" is not host:port or [ipv6]:port (e.g. 127.0.0.1:9464)`, { listen }),
  listenFailed: (listen: string, why: string) =>
    new TrellisError(
      PrometheusErrorCode.LISTEN_FAILED,
      `metrics-prometheus cannot listen on ${listen} (${why}); set config.listen to a free host:port`,
      { listen },
    ),
  collectFailed: (why: string) =>
    new TrellisError(PrometheusErrorCode.COLLECT_FAILED, `metrics collection failed: ${why}; see the runtime's log for the instrument that threw`),
};
