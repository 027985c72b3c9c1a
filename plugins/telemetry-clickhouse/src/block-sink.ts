/**
 * BlockSink is where insert blocks land; ClickHouseBlockSink is the real one: a TabSeparated
 * INSERT whose query_id is the block id (so a retry cannot run beside a still-running first try) and a ledger
 * lookup that tells whether an earlier try of a block already landed.
 */
import type { ClickHouseStatements } from './connection';
import { quoteString, SchemaNames } from './schema';
import type { ServerFeatures } from './server-features';
import type { SpoolRecord } from './spool';
import { encodeBlock, tableColumns } from './tab-separated';

export interface BlockSink {
  insert(block: SpoolRecord, signal: AbortSignal): Promise<void>;
  /** Whether a block with this id has already been inserted. */
  has(blockId: string, signal: AbortSignal): Promise<boolean>;
}

export class ClickHouseBlockSink implements BlockSink {
  private readonly settings: Record<string, string | number>;

  constructor(
    private readonly conn: ClickHouseStatements,
    private readonly names: SchemaNames,
    features: ServerFeatures,
    clustered: boolean,
  ) {
    this.settings = {};
    if (features.asyncInsert) Object.assign(this.settings, { async_insert: 1, wait_for_async_insert: 1 });
    if (clustered) this.settings.insert_distributed_sync = 1;
  }

  /** insert sends the block as TabSeparated in one request; block_id comes from block.id. */
  async insert(block: SpoolRecord, signal: AbortSignal): Promise<void> {
    const body = encodeBlock(block.table, block.rows, block.id);
    await this.conn.insertTabSeparated(this.names.table(block.table), tableColumns(block.table), body, {
      queryId: `trellis-${block.id}`,
      settings: this.settings,
      abortSignal: signal,
    });
  }

  async has(blockId: string, signal: AbortSignal): Promise<boolean> {
    const rows = await this.conn.queryRows<{ n: string | number }>(
      `SELECT count() AS n FROM ${this.names.table('ingest_ledger')} WHERE block_id = ${quoteString(blockId)}`,
      'ingest ledger lookup',
      signal,
    );
    return Number(rows[0]?.n ?? 0) > 0;
  }
}
