/** text: how Trellis writes figures and tables for people (the CLI, and plugins' status text). */
export { formatAgo, formatBytes, formatDuration, formatLoss, formatMicros } from './human-format';
export { renderTable } from './text-table';
