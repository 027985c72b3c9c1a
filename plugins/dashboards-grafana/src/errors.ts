/**
 * The dashboards-grafana error catalogue: one factory per code, each message naming what was wrong
 * and what to do about it.
 */
import { TrellisError } from '@trellis/core/api';

export const DashboardsErrorCode = {
  THRESHOLDS_INVALID: 'TRELLIS_ERR_DASHBOARDS_THRESHOLDS_INVALID',
  MACRO_INVALID: 'TRELLIS_ERR_DASHBOARDS_MACRO_INVALID',
} as const;
export type DashboardsErrorCode = (typeof DashboardsErrorCode)[keyof typeof DashboardsErrorCode];

export const dashboardsErrors = {
  thresholdsInvalid: (source: string, key: string, what: string) =>
    new TrellisError(
      DashboardsErrorCode.THRESHOLDS_INVALID,
      `alert thresholds ${source}: "${key}" ${what}; fix it (see plugins/dashboards-grafana/README.md for every key)`,
      { source, key },
    ),
  macroInvalid: (macro: string, what: string) =>
    new TrellisError(DashboardsErrorCode.MACRO_INVALID, `query macro ${macro}: ${what}`, { macro }),
};
