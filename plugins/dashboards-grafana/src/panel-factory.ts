/**
 * PanelFactory builds the panels of one dashboard with the Foundation SDK and records every query
 * it places (SQL, format, the columns the panel reads), so tests and the benchmark can run each
 * one against ClickHouse and check its shape.
 */
import { DashboardLinkBuilder, QueryVariableBuilder, VariableRefresh, VariableSort, type DataTransformerConfig } from '@grafana/grafana-foundation-sdk/dashboard';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { ClickHouseQueryBuilder } from './clickhouse-query';
import { DATASOURCE_REF, PROMETHEUS_DATASOURCE_REF } from './datasource';

export interface PanelQuery {
  dashboardUid: string;
  /** Panel title, or "variable <name>" for a template variable's query. */
  panel: string;
  sql: string;
  format: 'table' | 'timeseries';
  /** Columns the panel reads, in order. */
  columns: string[];
  /** The panel's min interval (Grafana raises $__interval to at least this), in ms. */
  minIntervalMs?: number;
}

/** A PromQL query a panel places on the Prometheus datasource (checked with promtool in the tests). */
export interface PromPanelQuery {
  dashboardUid: string;
  panel: string;
  expr: string;
}

export interface LinkSpec {
  title: string;
  url: string;
}

export interface VariableSpec {
  name: string;
  label: string;
  sql: string;
  /** The column holding the values. */
  column: string;
  multi: boolean;
}

export class PanelFactory {
  readonly queries: PanelQuery[] = [];
  readonly promQueries: PromPanelQuery[] = [];
  private nextId = 1;

  constructor(readonly dashboardUid: string) {}

  private target(panel: string, sql: string, format: 'table' | 'timeseries', columns: string[], minIntervalMs?: number): ClickHouseQueryBuilder {
    this.queries.push({ dashboardUid: this.dashboardUid, panel, sql, format, columns, ...(minIntervalMs ? { minIntervalMs } : {}) });
    const q = new ClickHouseQueryBuilder(DATASOURCE_REF).rawSql(sql);
    return format === 'timeseries' ? q.timeSeries() : q.table();
  }

  stat(title: string, sql: string, columns: string[], o: { unit?: string; width?: number; steps?: Array<{ value: number | null; color: string }> } = {}): stat.PanelBuilder {
    const p = new stat.PanelBuilder()
      .id(this.nextId++)
      .title(title)
      .datasource(DATASOURCE_REF)
      .withTarget(this.target(title, sql, 'table', columns))
      .height(4)
      .span(o.width ?? 6)
      .reduceOptions({ build: () => ({ calcs: ['lastNotNull'], values: false, fields: '' }) });
    if (o.unit) p.unit(o.unit);
    if (o.steps) p.thresholds({ build: () => ({ mode: 'absolute' as never, steps: o.steps! }) });
    return p;
  }

  /**
   * `minIntervalMinutes` sets the panel's min interval: mesh-wide series use 10 so Grafana's
   * $__interval_s is a multiple of 600 and the query reads the 10-minute rollup.
   */
  timeSeries(title: string, sql: string, columns: string[], o: { unit?: string; width?: number; threshold?: number; minIntervalMinutes?: number } = {}): timeseries.PanelBuilder {
    const p = new timeseries.PanelBuilder()
      .id(this.nextId++)
      .title(title)
      .datasource(DATASOURCE_REF)
      .withTarget(this.target(title, sql, 'timeseries', columns, o.minIntervalMinutes ? o.minIntervalMinutes * 60_000 : undefined))
      .height(8)
      .span(o.width ?? 12);
    if (o.minIntervalMinutes) p.interval(`${o.minIntervalMinutes}m`);
    if (o.unit) p.unit(o.unit);
    if (o.threshold !== undefined) {
      p.thresholds({ build: () => ({ mode: 'absolute' as never, steps: [{ value: null, color: 'green' }, { value: o.threshold!, color: 'red' }] }) });
      p.thresholdsStyle({ build: () => ({ mode: 'line' as never }) });
    }
    return p;
  }

  table(title: string, sql: string, columns: string[], o: { width?: number; height?: number; links?: LinkSpec[]; transformations?: DataTransformerConfig[] } = {}): table.PanelBuilder {
    const p = new table.PanelBuilder()
      .id(this.nextId++)
      .title(title)
      .datasource(DATASOURCE_REF)
      .withTarget(this.target(title, sql, 'table', columns))
      .height(o.height ?? 8)
      .span(o.width ?? 24);
    if (o.links) p.dataLinks(o.links.map((l) => new DashboardLinkBuilder(l.title).url(l.url)));
    if (o.transformations) p.transformations(o.transformations);
    return p;
  }

  private promTarget(panel: string, expr: string, legend: string, instant: boolean): prometheus.DataqueryBuilder {
    this.promQueries.push({ dashboardUid: this.dashboardUid, panel, expr });
    const q = new prometheus.DataqueryBuilder().datasource(PROMETHEUS_DATASOURCE_REF).expr(expr).legendFormat(legend);
    return instant ? q.instant().format(prometheus.PromQueryFormat.Table) : q.range();
  }

  /** promTimeSeries is a time series panel of one PromQL query on the Prometheus datasource. */
  promTimeSeries(title: string, expr: string, legend: string, o: { unit?: string; width?: number; threshold?: number } = {}): timeseries.PanelBuilder {
    const p = new timeseries.PanelBuilder()
      .id(this.nextId++)
      .title(title)
      .datasource(PROMETHEUS_DATASOURCE_REF)
      .withTarget(this.promTarget(title, expr, legend, false))
      .height(8)
      .span(o.width ?? 12);
    if (o.unit) p.unit(o.unit);
    if (o.threshold !== undefined) {
      p.thresholds({ build: () => ({ mode: 'absolute' as never, steps: [{ value: null, color: 'green' }, { value: o.threshold!, color: 'red' }] }) });
      p.thresholdsStyle({ build: () => ({ mode: 'line' as never }) });
    }
    return p;
  }

  /** promTable is a table of one instant PromQL query (one row a series, its labels as columns). */
  promTable(title: string, expr: string, o: { width?: number; height?: number; transformations?: DataTransformerConfig[] } = {}): table.PanelBuilder {
    const p = new table.PanelBuilder()
      .id(this.nextId++)
      .title(title)
      .datasource(PROMETHEUS_DATASOURCE_REF)
      .withTarget(this.promTarget(title, expr, '', true))
      .height(o.height ?? 8)
      .span(o.width ?? 24);
    if (o.transformations) p.transformations(o.transformations);
    return p;
  }

  variable(v: VariableSpec): QueryVariableBuilder {
    this.queries.push({ dashboardUid: this.dashboardUid, panel: `variable ${v.name}`, sql: v.sql, format: 'table', columns: [v.column] });
    const b = new QueryVariableBuilder(v.name)
      .label(v.label)
      .datasource(DATASOURCE_REF)
      .query(v.sql)
      .refresh(VariableRefresh.OnTimeRangeChanged)
      .sort(VariableSort.AlphabeticalAsc)
      .multi(v.multi)
      .includeAll(v.multi);
    return b;
  }
}
