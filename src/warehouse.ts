// The sink of `bin/main sync`: consumes the read's events, stages each page in the DuckDB
// warehouse (src/warehouse/) and commits a completed read, rows and state together.
import { DuckDBAppender } from '@duckdb/node-api';
import { LogLevel } from './airbyte/messages';
import { ApiRecord } from './api/types';
import { ReadEvent, retryMessage } from './read/events';
import { Warehouse } from './warehouse/database';
import { duckMessage, WarehouseError } from './warehouse/files';
import { CommitResult, SyncModeName } from './warehouse/runs';
import { OFFERS } from './warehouse/schema';

export { DEFAULT_DB, Warehouse } from './warehouse/database';
export { WarehouseError } from './warehouse/files';
export type { CommitResult, SyncModeName } from './warehouse/runs';

export interface SinkHooks {
  /** Records read so far in this run. */
  records?(total: number): void;
  /** The stream's row estimate (the inventory size). */
  estimate?(rows: number): void;
  /** The read finished; rows and state are being written. */
  committing?(): void;
  log?(level: LogLevel, message: string): void;
}

/**
 * The consumer of a sync's read events: each page is appended to a temp staging
 * table; the checkpoint's state is kept; `completed` commits rows and state
 * together; `failed` is remembered as the sync's error. A failed write throws,
 * which ends the read.
 */
export class WarehouseSink {
  recordCount = 0;
  /** Why the read or a write failed, if it did. */
  error?: string;
  result?: CommitResult;
  private appender?: DuckDBAppender;
  private seq = 0;
  private state?: Record<string, unknown>;

  constructor(
    private readonly wh: Warehouse,
    private readonly stream: string,
    private readonly runId: number,
    private readonly mode: SyncModeName,
    private readonly hooks: SinkHooks,
  ) {}

  async consume(event: ReadEvent): Promise<void> {
    if (event.stream !== undefined && event.stream !== this.stream) {
      throw new Error(`unexpected stream ${event.stream}`);
    }
    switch (event.type) {
      case 'records':
        return this.stage(event.records);
      case 'estimate':
        return this.hooks.estimate?.(event.rows);
      case 'retry':
        return this.hooks.log?.('WARN', retryMessage(event.notice));
      case 'log':
        return this.hooks.log?.(event.level, event.message);
      case 'checkpoint':
        this.state = event.state;
        return;
      case 'completed':
        return this.commit();
      case 'failed':
        this.error = event.message;
        return;
    }
  }

  private async stage(records: ApiRecord[]): Promise<void> {
    await this.writing(async () => {
      this.appender ??= await this.wh.conn.createAppender(OFFERS.stage, 'main', 'temp');
      this.seq = OFFERS.append(this.appender, records, this.seq);
    });
    this.recordCount += records.length;
    this.hooks.records?.(this.recordCount);
  }

  /** The read completed: rows and the checkpoint's state land in one transaction. */
  private async commit(): Promise<void> {
    const state = this.state;
    if (!state)
      throw new Error(`internal: the ${this.stream} stream completed without a checkpoint`);
    this.appender?.closeSync();
    this.appender = undefined;
    this.hooks.committing?.();
    this.result = await this.writing(() =>
      this.wh.commit(this.runId, this.mode, this.stream, state, this.recordCount),
    );
  }

  /** Runs a write to the database; its failure is worded as one (the read then stops). */
  private async writing<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      this.error = `Writing to the DuckDB database ${this.wh.file} failed: ${duckMessage(err)}`;
      throw new WarehouseError(this.error);
    }
  }
}
