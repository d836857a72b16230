// The ReadSink of `bin/main sync`: stages each page in the DuckDB warehouse (src/warehouse/), commits a whole read.
import { DuckDBAppender } from '@duckdb/node-api';
import { Offer } from './client';
import { LogLevel, ReadSink, StreamStateMessage, TraceMessage } from './output';
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
 * The ReadSink of a sync: each page is appended to a temp staging table; the
 * STATE message (sent once, after the whole scan) commits rows and state together.
 */
export class WarehouseSink implements ReadSink {
  recordCount = 0;
  /** The read's TRACE ERROR message, if it failed. */
  error?: string;
  result?: CommitResult;
  private appender?: DuckDBAppender;
  private seq = 0;

  constructor(
    private readonly wh: Warehouse,
    private readonly stream: string,
    private readonly runId: number,
    private readonly mode: SyncModeName,
    private readonly hooks: SinkHooks,
  ) {}

  async records(stream: string, offers: Offer[]): Promise<void> {
    if (stream !== this.stream) throw new Error(`unexpected stream ${stream}`);
    await this.writing(async () => {
      this.appender ??= await this.wh.conn.createAppender(OFFERS.stage, 'main', 'temp');
      this.seq = OFFERS.append(this.appender, offers, this.seq);
    });
    this.recordCount += offers.length;
    this.hooks.records?.(this.recordCount);
  }

  async message(msg: StreamStateMessage | TraceMessage): Promise<void> {
    if (msg.type === 'STATE') {
      this.appender?.closeSync();
      this.appender = undefined;
      this.hooks.committing?.();
      this.result = await this.writing(() =>
        this.wh.commit(
          this.runId,
          this.mode,
          msg.state.stream.stream_descriptor.name,
          msg.state.stream.stream_state,
          this.recordCount,
        ),
      );
      return;
    }
    const trace = msg.trace;
    // A failed write is the sync's error, not the read error the source then reports.
    if (trace.type === 'ERROR') this.error ??= trace.error.message;
    else if (trace.type === 'ESTIMATE') this.hooks.estimate?.(trace.estimate.row_estimate);
  }

  log(level: LogLevel, message: string): void {
    this.hooks.log?.(level, message);
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
