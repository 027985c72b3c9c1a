import { join } from 'node:path';
import type { LabWiring } from '@trellis/core/api';

/**
 * clickhouseLabWiring points the controller's pipeline at the lab's ClickHouse (`trellis lab up
 * --clickhouse`): its URL, and the database given with it or else the user's or "trellis"; the
 * spool goes beside the lab's config unless the user chose a place. Other options stay the user's.
 */
export const clickhouseLabWiring: LabWiring = {
  config(_side, services, current) {
    const clickhouse = services.clickhouse;
    if (clickhouse === undefined) return null;
    return {
      spoolDir: join(services.configDir, 'clickhouse-spool'),
      ...current,
      url: clickhouse.url,
      database: clickhouse.database ?? (current.database as string | undefined) ?? 'trellis',
    };
  },
};
