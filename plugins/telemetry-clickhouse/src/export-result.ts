/** ExportResult follows OpenTelemetry's shape: exporters report failure as a value, never by throwing. */
export const ExportResultCode = { SUCCESS: 0, FAILED: 1 } as const;
export type ExportResultCode = (typeof ExportResultCode)[keyof typeof ExportResultCode];

export interface ExportResult {
  code: ExportResultCode;
  error?: Error;
}

/** TelemetryExporter is what the controller calls with agent telemetry batches. */
export interface TelemetryExporter<B> {
  export(batch: B): Promise<ExportResult>;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}
