/**
 * datasource: the one ClickHouse datasource every panel and rule points at (stable uid), the
 * Grafana folder holding Trellis dashboards and rules, and their provisioning documents.
 */
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/dashboard';
import { CLICKHOUSE_DATASOURCE_TYPE } from './clickhouse-query';

export const DATASOURCE_UID = 'trellis-clickhouse';
export const DATASOURCE_REF: DataSourceRef = { type: CLICKHOUSE_DATASOURCE_TYPE, uid: DATASOURCE_UID };
/** The Prometheus scraping metrics-prometheus: the controller's and agents' own figures (map pipeline, devices). */
export const PROMETHEUS_DATASOURCE_UID = 'trellis-prometheus';
export const PROMETHEUS_DATASOURCE_REF: DataSourceRef = { type: 'prometheus', uid: PROMETHEUS_DATASOURCE_UID };
export const DEFAULT_PROMETHEUS_URL = 'http://127.0.0.1:9090';
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

/** prometheusDatasourceProvisioning: the Prometheus that scrapes metrics-prometheus (no credentials). */
export function prometheusDatasourceProvisioning(url: string): Record<string, unknown> {
  return {
    apiVersion: 1,
    datasources: [{ name: 'Trellis Prometheus', uid: PROMETHEUS_DATASOURCE_UID, type: 'prometheus', access: 'proxy', editable: false, url }],
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
