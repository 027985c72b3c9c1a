import type { LabWiring } from '@trellis/core/api';

/**
 * prometheusLabWiring serves /metrics where the lab's Prometheus scrapes each side (`trellis lab up
 * --prometheus`); the rest of the user's entry stays.
 */
export const prometheusLabWiring: LabWiring = {
  config(side, services, current) {
    const prometheus = services.prometheus;
    if (prometheus === undefined) return null;
    return { ...current, listen: prometheus.listen[side] };
  },
};
