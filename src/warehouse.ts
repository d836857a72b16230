// The sink of `bin/main sync`: consumes the read's events, stages each stream's pages in the
// DuckDB warehouse (src/warehouse/) and commits the completed read, rows and states together.
import { LogLevel } from './airbyte/messages';
import { ApiRecord } from './api/types';
import { ReadEvent, retryMessage } from './read/events';
import { Warehouse } from './warehouse/database';
import { duckMessage, WarehouseError } from './warehouse/files';
import { StreamPart } from './warehouse/merge';
import { StreamCommit, SyncModeName } from './warehouse/runs';
import { StreamTable, TABLES } from './warehouse/schema';
import { Staging } from './warehouse/staging';

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

/** One stream's read: its table, its records, its completed read. */
interface StreamRead {
  table: StreamTable;
  stream: SinkStream;
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
 * The consumer of a sync's read events: each stream's pages are staged and
 * loaded while the read goes on (src/warehouse/staging.ts); each stream's
 * checkpoint state is kept; when the last configured stream completes, every
 * stream's rows and state are committed in one transaction (a stream that
 * fails leaves `result` unset, and `abandon` undoes the loads: nothing is
 * committed). `failed` is remembered as the sync's error. A failed write
 * throws, which ends the read.
 */
export class WarehouseSink {
  /** Records read so far in this run, every stream. */
  recordCount = 0;
  /** Why the read or a write failed, if it did. */
  error?: string;
  result?: StreamCommit[];
  private readonly reads: Map<string, StreamRead>;
  private readonly staging: Staging;

  constructor(
    private readonly wh: Warehouse,
    streams: readonly SinkStream[],
    private readonly runId: number,
    private readonly hooks: SinkHooks,
    /** Tests: load staged rows every so many bytes (see staging.ts). */
    chunkBytes?: number,
  ) {
    this.reads = new Map(
      streams.map((stream) => {
        const table = TABLES.get(stream.name);
        if (!table) throw new Error(`internal: no warehouse table for the ${stream.name} stream`);
        return [stream.name, { table, stream, records: 0, estimate: 0, done: false }];
      }),
    );
    this.staging = new Staging(wh, chunkBytes);
  }

  async consume(event: ReadEvent): Promise<void> {
    if (event.type === 'log') return this.hooks.log?.(event.level, event.message);
    const read = this.reads.get(event.stream);
    if (!read) throw new Error(`unexpected stream ${event.stream}`);
    switch (event.type) {
      case 'records':
        return this.stage(read, event.records);
      case 'estimate': {
        read.estimate = event.rows;
        let rows = 0;
        for (const r of this.reads.values()) rows += r.estimate;
        return this.hooks.estimate?.(rows);
      }
      case 'retry':
        return this.hooks.log?.('WARN', retryMessage(event.notice));
      case 'checkpoint':
        read.state = event.state;
        return;
      case 'completed':
        return this.complete(read);
      case 'failed':
        this.error = event.message;
        return;
    }
  }

  private async stage(read: StreamRead, records: ApiRecord[]): Promise<void> {
    await this.writing(() => this.staging.write(read.table, records));
    read.records += records.length;
    this.recordCount += records.length;
    this.hooks.records?.(this.recordCount);
  }

  /** A stream's read completed; after the last one, every stream lands in one transaction. */
  private async complete(read: StreamRead): Promise<void> {
    const name = read.stream.name;
    if (!read.state) throw new Error(`internal: the ${name} stream completed without a checkpoint`);
    read.done = true;
    const all = [...this.reads.values()];
    if (!all.every((r) => r.done)) return;
    const parts: StreamPart[] = all.map((r) => ({
      table: r.table,
      mode: r.stream.mode,
      state: r.state ?? {},
      records: r.records,
      cursorField: r.stream.cursorField,
    }));
    this.hooks.committing?.();
    this.result = await this.writing(() => this.wh.commit(this.runId, parts, this.staging));
  }

  /** The sync saves nothing: what was loaded is rolled back, the staged rows removed. */
  async abandon(): Promise<void> {
    await this.staging.abandon();
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
