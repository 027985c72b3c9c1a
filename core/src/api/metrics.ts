/**
 * What metrics exporter plugins (Prometheus, OTLP) get from core: one collection of every
 * core and plugin instrument, in OpenTelemetry's metric data model. The model is declared here, so
 * the plugin API does not depend on the OpenTelemetry SDK that core records with; a collection is
 * what OpenTelemetry's own exporters (the Prometheus serializer, the OTLP exporter) take.
 */
import type { Attributes, AttributeValue, HrTime, ValueType } from '@opentelemetry/api';

/** Where the metrics come from (service.name and the other resource attributes). */
export interface MetricsResource {
  readonly attributes: Attributes;
  readonly schemaUrl?: string;
  readonly asyncAttributesPending?: boolean;
  waitForAsyncAttributes?(): Promise<void>;
  merge(other: MetricsResource | null): MetricsResource;
  getRawAttributes(): Array<[string, AttributeValue | undefined | Promise<AttributeValue | undefined>]>;
}

export interface MetricDescriptor {
  readonly name: string;
  readonly description: string;
  readonly unit: string;
  readonly valueType: ValueType;
}

/** 0: delta, 1: cumulative (OpenTelemetry's AggregationTemporality). */
export type AggregationTemporalityValue = 0 | 1;

export interface MetricDataPoint<T> {
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly attributes: Attributes;
  readonly value: T;
}

export interface HistogramValue {
  buckets: { boundaries: number[]; counts: number[] };
  sum?: number;
  count: number;
  min?: number;
  max?: number;
}

export interface ExponentialHistogramValue {
  count: number;
  sum?: number;
  scale: number;
  zeroCount: number;
  positive: { offset: number; bucketCounts: number[] };
  negative: { offset: number; bucketCounts: number[] };
  min?: number;
  max?: number;
}

interface MetricDataBase {
  readonly descriptor: MetricDescriptor;
  readonly aggregationTemporality: AggregationTemporalityValue;
}

/** dataPointType as OpenTelemetry numbers it: 0 histogram, 1 exponential histogram, 2 gauge, 3 sum. */
export type MetricData =
  | (MetricDataBase & { readonly dataPointType: 0; readonly dataPoints: MetricDataPoint<HistogramValue>[] })
  | (MetricDataBase & { readonly dataPointType: 1; readonly dataPoints: MetricDataPoint<ExponentialHistogramValue>[] })
  | (MetricDataBase & { readonly dataPointType: 2; readonly dataPoints: MetricDataPoint<number>[] })
  | (MetricDataBase & { readonly dataPointType: 3; readonly dataPoints: MetricDataPoint<number>[]; readonly isMonotonic: boolean });

export interface ScopeMetrics {
  scope: { readonly name: string; readonly version?: string; readonly schemaUrl?: string };
  metrics: MetricData[];
}

export interface ResourceMetrics {
  resource: MetricsResource;
  scopeMetrics: ScopeMetrics[];
}

/** One collection: the metrics, and the errors of instruments that failed to report (the rest are there). */
export interface MetricsCollection {
  resourceMetrics: ResourceMetrics;
  errors: unknown[];
}
