/**
 * datasource: the one ClickHouse datasource every panel and rule points at (stable uid), the
 * Grafana folder holding Trellis dashboards and rules, and their provisioning documents.
 */
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/dashboard';
import { CLICKHOUSE_DATASOURCE_TYPE } from './clickhouse-query';

export const DATASOURCE_UID = 'trellis-clickhouse';
export const DATASOURCE_REF: DataSourceRef = { type: CLICKHOUSE_DATASOURCE_TYPE, uid: DATASOURCE_UID };
/** Grafana's server-side expressions pseudo-datasource. */
export const EXPRESSION_DATASOURCE_UID = '__expr__';
export const FOLDER_UID = 'trellis';
export const FOLDER_TITLE = 'Trellis';

export interface DatasourceOptions {
  /** ClickHouse native-protocol host and port (the plugin's default protocol). */
  host: string;
  port: number;
  username: string;
  database: string;
}

export const DEFAULT_DATASOURCE: DatasourceOptions = { host: '127.0.0.1', port: 9000, username: 'default', database: 'trellis' };

/** datasourceProvisioning: the password comes from $TRELLIS_CLICKHOUSE_PASSWORD when Grafana starts. */
export function datasourceProvisioning(o: DatasourceOptions): Record<string, unknown> {
  return {
    apiVersion: 1,
    datasources: [
      {
        name: 'Trellis ClickHouse',
        uid: DATASOURCE_UID,
        type: CLICKHOUSE_DATASOURCE_TYPE,
        access: 'proxy',
        editable: false,
        jsonData: { host: o.host, port: o.port, protocol: 'native', secure: false, username: o.username, defaultDatabase: o.database },
        secureJsonData: { password: '$TRELLIS_CLICKHOUSE_PASSWORD' },
      },
    ],
  };
}

/** dashboardsProvisioning: a file provider reading the generated JSON into the Trellis folder. */
export function dashboardsProvisioning(jsonDir: string): Record<string, unknown> {
  return {
    apiVersion: 1,
    providers: [
      {
        name: 'trellis',
        orgId: 1,
        folder: FOLDER_TITLE,
        folderUid: FOLDER_UID,
        type: 'file',
        disableDeletion: false,
        allowUiUpdates: false,
        updateIntervalSeconds: 60,
        options: { path: jsonDir, foldersFromFilesStructure: false },
      },
    ],
  };
}
