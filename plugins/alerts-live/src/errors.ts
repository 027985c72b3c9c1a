/**
 * The alerts-live error catalogue: one factory per code, each message naming what was wrong and
 * what to do about it.
 */
import { TrellisError } from '@trellis/core/api';

export const AlertsErrorCode = {
  CONFIG_INVALID: 'TRELLIS_ERR_ALERTS_CONFIG_INVALID',
} as const;
export type AlertsErrorCode = (typeof AlertsErrorCode)[keyof typeof AlertsErrorCode];

export const alertsErrors = {
  configInvalid: (key: string, what: string) =>
    new TrellisError(AlertsErrorCode.CONFIG_INVALID, `alerts-live config "${key}" ${what}; fix the controller's plugin config (see plugins/alerts-live/README.md)`, { key }),
};
