// The sink of `bin/main sync`: consumes the read's events, stages each stream's pages in the
// DuckDB warehouse (src/warehouse/) and commits the completed read, rows and states together.
import { DuckDBAppender } from '@duckdb/node-api';
import { LogLevel } from './airbyte/messages';
import { ApiRecord } from './api/types';
import { ReadEvent, retryMessage } from './read/events';
import { Warehouse } from './warehouse/database';
import { duckMessage, WarehouseError } from './warehouse/files';
import { StreamPart } from './warehouse/merge';
import { StreamCommit, SyncModeName } from './warehouse/runs';
import { StreamTable, TABLES } from './warehouse/schema';

export { DEFAULT_DB, Warehouse } from './warehouse/database';
export { WarehouseError } from './warehouse/files';
export type { StreamCommit, SyncModeName } from './warehouse/runs';

/** A stream the sync reads, and how. */
export interface SinkStream {
  name: string;
  mode: SyncModeName;
  /** The state's cursor field (the stream definition's cursorField), if any. */
  cursorField?: string;
}

/** Staged rows are handed to DuckDB (which spills them beyond its memory_limit) every so many. */
const FLUSH_ROWS = 2_000;

/** One stream's staging: its appender, its records, its completed read. */
interface Staging {
  table: StreamTable;
  stream: SinkStream;
  appender?: DuckDBAppender;
  /** Rows appended since the appender last flushed. */
  unflushed: number;
  records: number;
  /** The stream's latest row estimate. */
  estimate: number;
  state?: Record<string, unknown>;
  done: boolean;
}

export interface SinkHooks {
  /** Records read so far in this run. */
  records?(total: number): void;
  /** The streams' row estimates (the inventory sizes), added up. */
  estimate?(rows: number): void;
  /** The read finished; rows and state are being written. */
  committing?(): void;
  log?(level: LogLevel, message: string): void;
}

/**
 * The consumer of a sync's read events: each stream's pages are appended to its
 * temp staging table; each stream's checkpoint state is kept; when the last
 * configured stream completes, every stream's rows and state are committed in
 * one transaction (a stream that fails leaves `result` unset: nothing is
 * committed). `failed` is remembered as the sync's error. A failed write
 * throws, which ends the read.
 */
export class WarehouseSink {
  /** Records read so far in this run, every stream. */
  recordCount = 0;
  /** Why the read or a write failed, if it did. */
  error?: string;
  result?: StreamCommit[];
  private readonly staging: Map<string, Staging>;

  constructor(
    private readonly wh: Warehouse,
    streams: readonly SinkStream[],
    private readonly runId: number,
    private readonly hooks: SinkHooks,
  ) {
    this.staging = new Map(
      streams.map((stream) => {
        const table = TABLES.get(stream.name);
        if (!table) throw new Error(`internal: no warehouse table for the ${stream.name} stream`);
        return [stream.name, { table, stream, unflushed: 0, records: 0, estimate: 0, done: false }];
      }),
    );
  }

  async consume(event: ReadEvent): Promise<void> {
    if (event.type === 'log') return this.hooks.log?.(event.level, event.message);
    const staging = this.staging.get(event.stream);
    if (!staging) throw new Error(`unexpected stream ${event.stream}`);
    switch (event.type) {
      case 'records':
        return this.stage(staging, event.records);
      case 'estimate': {
        staging.estimate = event.rows;
        let rows = 0;
        for (const s of this.staging.values()) rows += s.estimate;
        return this.hooks.estimate?.(rows);
      }
      case 'retry':
        return this.hooks.log?.('WARN', retryMessage(event.notice));
      case 'checkpoint':
        staging.state = event.state;
        return;
      case 'completed':
        return this.complete(staging);
      case 'failed':
        this.error = event.message;
        return;
    }
  }

  private async stage(staging: Staging, records: ApiRecord[]): Promise<void> {
    await this.writing(async () => {
      staging.appender ??= await this.wh.conn.createAppender(staging.table.stage, 'main', 'temp');
      staging.table.append(staging.appender, records);
      staging.unflushed += records.length;
      // DuckDB's appender buffers ~200,000 rows outside its memory_limit before it flushes itself.
      if (staging.unflushed >= FLUSH_ROWS) {
        staging.appender.flushSync();
        staging.unflushed = 0;
      }
    });
    staging.records += records.length;
    this.recordCount += records.length;
    this.hooks.records?.(this.recordCount);
  }

  /** A stream's read completed; after the last one, every stream lands in one transaction. */
  private async complete(staging: Staging): Promise<void> {
    const name = staging.stream.name;
    if (!staging.state)
      throw new Error(`internal: the ${name} stream completed without a checkpoint`);
    await this.writing(async () => staging.appender?.closeSync());
    staging.appender = undefined;
    staging.done = true;
    const all = [...this.staging.values()];
    if (!all.every((s) => s.done)) return;
    const parts: StreamPart[] = all.map((s) => ({
      table: s.table,
      mode: s.stream.mode,
      state: s.state ?? {},
      records: s.records,
      cursorField: s.stream.cursorField,
    }));
    this.hooks.committing?.();
    this.result = await this.writing(() => this.wh.commit(this.runId, parts));
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
