/**
 * OtelBridge exposes the runtime's OpenTelemetry metrics through a prom-client Registry. Core and
 * plugins record through @opentelemetry/api only; at each scrape the bridge is handed that scrape's
 * collection (MetricsAccess.collect) and turns every instrument into one prom-client metric family
 * whose samples are exactly the collected data points, so there is one source of truth and nothing
 * is recorded twice. Families whose instrument reported nothing this time leave the registry.
 */
import type { HistogramValue, MetricData, ResourceMetrics } from '@trellis/core/api';
import { Registry, type Metric } from 'prom-client';
import { baseUnit, labelName, labelValue, metricName } from './prometheus-names';

type Kind = 'counter' | 'gauge' | 'histogram';
type Labels = Record<string, string | number>;

/** One sample line: `metricName{labels} value`; metricName is absent on plain counters and gauges. */
interface Sample {
  metricName?: string;
  labels: Labels;
  value: number;
  sharedLabels: Labels;
}

/**
 * prom-client flattens each sample's sharedLabels through a WeakMap cache keyed by the object; one
 * frozen empty object for every sample makes that a cache hit instead of a fresh {} per line.
 */
const NO_SHARED_LABELS: Labels = Object.freeze({}) as Labels;

/**
 * BridgedFamily is a metric family in prom-client's Registry shape (name, help, type, get()), its
 * samples set from the last collection. prom-client's own Counter/Gauge/Histogram only record
 * observations; a histogram's bucket counts cannot be set on them, hence this small adapter.
 */
class BridgedFamily {
  readonly aggregator = 'sum';
  samples: Sample[] = [];

  constructor(
    readonly name: string,
    public help: string,
    readonly type: Kind,
  ) {}

  async get(): Promise<{ name: string; help: string; type: Kind; aggregator: string; values: Sample[] }> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.samples };
  }

  reset(): void {
    this.samples = [];
  }
}

/** kindOf maps an OpenTelemetry data point type to a Prometheus type; null for kinds core never creates. */
function kindOf(m: MetricData): Kind | null {
  switch (m.dataPointType) {
    case 0: // histogram
      return 'histogram';
    case 2: // gauge
      return 'gauge';
    case 3: // sum
      return m.isMonotonic ? 'counter' : 'gauge';
    default:
      // Exponential histograms need a view, and core configures none.
      return null;
  }
}

/** labelsOf turns attributes into labels; keys that sanitize alike are joined with ";" (sorted by key). */
function labelsOf(attributes: Record<string, unknown>): Labels {
  const out: Labels = {};
  for (const key of Object.keys(attributes).sort()) {
    const v = attributes[key];
    if (v === undefined || v === null) continue;
    const name = labelName(key);
    out[name] = name in out ? `${out[name]};${labelValue(v)}` : labelValue(v);
  }
  return out;
}

/** scale converts to the base unit, rounded to 15 significant digits so 0.001 × 5 reads 0.005. */
const scale = (v: number, factor: number) => (factor === 1 ? v : Number((v * factor).toPrecision(15)));

const labelKey = (labels: Labels) =>
  Object.keys(labels)
    .sort()
    .map((k) => `${k}\u0000${labels[k]}`)
    .join('\u0001');

/** histogramSamples gives the cumulative `le` buckets, sum and count; factor converts to the base unit. */
function histogramSamples(name: string, labels: Labels, h: HistogramValue, factor: number): Sample[] {
  const out: Sample[] = [];
  let cumulative = 0;
  h.buckets.boundaries.forEach((bound, i) => {
    cumulative += h.buckets.counts[i] ?? 0;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: scale(bound, factor) }, value: cumulative, sharedLabels: NO_SHARED_LABELS });
  });
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count, sharedLabels: NO_SHARED_LABELS });
  if (h.sum !== undefined) out.push({ metricName: `${name}_sum`, labels, value: scale(h.sum, factor), sharedLabels: NO_SHARED_LABELS });
  out.push({ metricName: `${name}_count`, labels, value: h.count, sharedLabels: NO_SHARED_LABELS });
  return out;
}

export interface OtelBridgeOptions {
  /** Names already taken in the scrape (prom-client's process metrics); an instrument with one is skipped. */
  reserved?: () => ReadonlySet<string>;
  /** Told once per problem (a skipped instrument), so a log does not repeat it every scrape. */
  warn?: (message: string) => void;
}

export class OtelBridge {
  readonly registry = new Registry();
  private readonly families = new Map<string, BridgedFamily>();
  private readonly warned = new Set<string>();

  constructor(private readonly o: OtelBridgeOptions = {}) {}

  private warnOnce(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.o.warn?.(message);
  }

  /** update replaces every family's samples with those of one collection. */
  update(resourceMetrics: ResourceMetrics): void {
    const reserved = this.o.reserved?.() ?? new Set<string>();
    const next = new Map<string, { kind: Kind; help: string; samples: Sample[]; seen: Set<string> }>();
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const m of scope.metrics) {
        const kind = kindOf(m);
        const instrument = `${m.descriptor.name} (meter ${scope.scope.name})`;
        if (kind === null) {
          this.warnOnce(`metric ${instrument} is an exponential histogram, which /metrics does not serve; use explicit buckets`);
          continue;
        }
        const name = metricName(m.descriptor.name, m.descriptor.unit, kind);
        const { factor } = baseUnit(m.descriptor.unit);
        if (reserved.has(name)) {
          this.warnOnce(`metric ${instrument} is named ${name}, like a Node.js process metric; it is left out of /metrics`);
          continue;
        }
        let fam = next.get(name);
        if (!fam) next.set(name, (fam = { kind, help: m.descriptor.description || name, samples: [], seen: new Set() }));
        else if (fam.kind !== kind) {
          this.warnOnce(`metric ${instrument} is a ${kind} named ${name}, already a ${fam.kind}; it is left out of /metrics`);
          continue;
        }
        for (const dp of m.dataPoints as ReadonlyArray<{ attributes: Record<string, unknown>; value: number | HistogramValue }>) {
          const labels = labelsOf(dp.attributes);
          const key = labelKey(labels);
          if (fam.seen.has(key)) continue; // the same series from a second meter: the first one stands
          fam.seen.add(key);
          if (kind === 'histogram') fam.samples.push(...histogramSamples(name, labels, dp.value as HistogramValue, factor));
          else fam.samples.push({ labels, value: scale(dp.value as number, factor), sharedLabels: NO_SHARED_LABELS });
        }
      }
    }
    for (const [name, fam] of this.families) {
      const n = next.get(name);
      if (n && n.kind === fam.type && n.samples.length > 0) continue;
      this.registry.removeSingleMetric(name);
      this.families.delete(name);
    }
    for (const [name, n] of next) {
      if (n.samples.length === 0) continue;
      let fam = this.families.get(name);
      if (!fam) {
        fam = new BridgedFamily(name, n.help, n.kind);
        this.registry.registerMetric(fam as unknown as Metric);
        this.families.set(name, fam);
      }
      fam.help = n.help;
      fam.samples = n.samples;
    }
  }
}
