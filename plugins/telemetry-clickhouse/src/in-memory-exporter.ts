import { ExportResultCode, type ExportResult, type TelemetryExporter } from './export-result';
import { toDbRows, type RowsByTable, type TelemetryBatch } from './rows';
import { clickhouseErrors } from './errors';

/**
 * InMemoryExporter keeps what it was given, validated the same way as the ClickHouse exporter,
 * so controller tests can assert on exported telemetry without a server.
 */
export class InMemoryExporter implements TelemetryExporter<TelemetryBatch> {
  private batches: TelemetryBatch[] = [];
  private rows: RowsByTable[] = [];
  private stopped = false;

  async export(batch: TelemetryBatch): Promise<ExportResult> {
    if (this.stopped) return { code: ExportResultCode.FAILED, error: clickhouseErrors.shutDown() };
    try {
      this.rows.push(toDbRows(batch));
      this.batches.push(structuredClone(batch));
      return { code: ExportResultCode.SUCCESS };
    } catch (err) {
      return { code: ExportResultCode.FAILED, error: err as Error };
    }
  }

  getFinishedBatches(): TelemetryBatch[] {
    return [...this.batches];
  }

  /** The stored-row form of every accepted batch, in order. */
  getFinishedRows(): RowsByTable[] {
    return [...this.rows];
  }

  reset(): void {
    this.batches = [];
    this.rows = [];
  }

  async forceFlush(): Promise<void> {}

  async shutdown(): Promise<void> {
    this.stopped = true;
  }
}
