/**
 * ClickHouseQuery: a grafana-clickhouse-datasource query in SQL mode, as a Foundation SDK dataquery
 * variant (the SDK ships builders for core datasources only; third-party ones plug in this way).
 */
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';

export const CLICKHOUSE_DATASOURCE_TYPE = 'grafana-clickhouse-datasource';

/** sqlutil.FormatQueryOption in the plugin's backend: 0 time series, 1 table. */
export type ClickHouseFormat = 0 | 1;

export interface ClickHouseQuery extends cog.Dataquery {
  refId: string;
  hide?: boolean;
  datasource?: dashboard.DataSourceRef;
  editorType: 'sql';
  queryType: 'table' | 'timeseries';
  format: ClickHouseFormat;
  rawSql: string;
}

export class ClickHouseQueryBuilder implements cog.Builder<ClickHouseQuery> {
  private readonly q: ClickHouseQuery;

  constructor(datasource: dashboard.DataSourceRef, refId = 'A') {
    this.q = {
      refId,
      datasource,
      editorType: 'sql',
      queryType: 'table',
      format: 1,
      rawSql: '',
      _implementsDataqueryVariant() {},
    };
  }

  rawSql(sql: string): this {
    this.q.rawSql = sql;
    return this;
  }

  /** Long-format time series: a time column, string columns naming series, numeric values. */
  timeSeries(): this {
    this.q.queryType = 'timeseries';
    this.q.format = 0;
    return this;
  }

  table(): this {
    this.q.queryType = 'table';
    this.q.format = 1;
    return this;
  }

  refId(refId: string): this {
    this.q.refId = refId;
    return this;
  }

  build(): ClickHouseQuery {
    return { ...this.q };
  }
}
