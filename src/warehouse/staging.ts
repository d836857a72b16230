// A stream's rows on their way into DuckDB: newline-delimited JSON chunk files beside the
// database, each loaded by DuckDB's JSON reader (on its own thread) while the read goes on.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { ApiRecord } from '../api/types';
import type { Warehouse } from './database';
import { StreamTable } from './schema';

/** A chunk is closed, and can be loaded, once it holds this much text. */
export const CHUNK_BYTES = 16 * 1024 * 1024;

/** Where a sync of `db` stages its rows; a sync's own (DuckDB's lock on `db` keeps it so). */
export function stageDir(db: string): string {
  return `${path.resolve(db)}.stage`;
}

/**
 * One stream's staged rows. Appending a page is one synchronous write of its records'
 * lines (StreamTable.stageLine); closed chunks are loaded by Staging and
 * kept until the commit, so a rolled-back load can be run again.
 */
export class StreamStage {
  /** Every closed chunk, in order: its file and its longest line, in bytes. */
  readonly chunks: { file: string; longest: number }[] = [];
  /** Chunks loaded into the open transaction. */
  loaded = 0;
  /** Rows the loads of the open transaction wrote. */
  rowsLoaded = 0;
  /** Records written to the chunks. */
  rowsStaged = 0;
  private fd?: number;
  private bytes = 0;
  private longest = 0;

  constructor(
    readonly table: StreamTable,
    private readonly dir: string,
    /** Loads go straight into the stream's table (it was empty); otherwise into its temp stage. */
    readonly direct: boolean,
    private readonly chunkBytes = CHUNK_BYTES,
  ) {}

  /** Appends a page of records, all extracted at `at` (epoch ms), one line each. */
  write(records: readonly ApiRecord[], at: number): void {
    if (!records.length) return;
    let text = '';
    for (const record of records) text += this.table.stageLine(record, at) + '\n';
    const bytes = Buffer.from(text);
    this.fd ??= fs.openSync(this.chunkPath(this.chunks.length), 'w');
    for (let done = 0; done < bytes.length;) done += fs.writeSync(this.fd, bytes, done);
    this.bytes += bytes.length;
    this.longest = Math.max(this.longest, bytes.length); // a bound on its longest line
    this.rowsStaged += records.length;
    if (this.bytes >= this.chunkBytes) this.close();
  }

  /** Closes the chunk being written, if any; it can then be loaded. */
  close(): void {
    if (this.fd === undefined) return;
    fs.closeSync(this.fd);
    this.chunks.push({ file: this.chunkPath(this.chunks.length), longest: this.longest });
    this.fd = undefined;
    this.bytes = 0;
    this.longest = 0;
  }

  /** Throws unless the loads wrote a row for every record staged. */
  checkLoaded(): void {
    if (this.rowsLoaded !== this.rowsStaged)
      throw new Error(
        `internal: ${this.rowsStaged} ${this.table.name} records were staged but ${this.rowsLoaded} loaded`,
      );
  }

  /** The load of a closed chunk, its path the statement's only parameter. */
  loadSql(chunk: { longest: number }): string {
    const into = this.direct ? this.table.name : `temp.${this.table.stage}`;
    return this.table.loadSql(into, chunk.longest);
  }

  private chunkPath(index: number): string {
    return path.join(this.dir, `${this.table.name}-${String(index).padStart(5, '0')}.ndjson`);
  }
}

/**
 * DuckDB's threads for the loads, and so the database's from its open (database.ts): the JSON
 * reader holds a 32 MiB buffer per thread, which two would not fit in memory_limit, and the
 * read has the other core.
 */
export const LOAD_THREADS = 1;

/**
 * DuckDB's threads for the commit's merge: its joins over a large table take half the time on
 * two (an incremental of 5,807 offers into 1,000,000 rows: 0.26 s instead of 0.43 s).
 */
const MERGE_THREADS = Math.min(4, os.availableParallelism());

/** DuckDB's words when a statement could not get the memory it needed. */
const OUT_OF_MEMORY = /Out of Memory Error|failed to allocate data|failed to pin block/;

/**
 * Every stream's stage, and the one transaction they are loaded in. Chunks are
 * loaded one at a time, in the background of the read; the commit's work runs
 * in the same transaction after the last load. A load or commit that runs out of
 * memory rolls everything back and runs again from the chunks under the wider
 * memory bound (Warehouse.widenMemory); anything else that fails is rolled back.
 */
export class Staging {
  private readonly stages = new Map<string, StreamStage>();
  private readonly dir: string;
  private open = false;
  /** DuckDB's threads as last set here; the database opens with LOAD_THREADS. */
  private threads = LOAD_THREADS;
  /** The load in flight, if any (it never rejects: its error is kept in `failure`). */
  private loading?: Promise<void>;
  private failure?: unknown;

  constructor(
    private readonly wh: Warehouse,
    private readonly chunkBytes = CHUNK_BYTES,
  ) {
    this.dir = stageDir(wh.file);
  }

  /** A stream's stage, once it has rows. */
  stage(stream: string): StreamStage | undefined {
    return this.stages.get(stream);
  }

  /** Stages a page; a chunk it closes starts loading once the load before it is done. */
  async write(table: StreamTable, records: readonly ApiRecord[]): Promise<void> {
    if (!records.length) return;
    let stage = this.stages.get(table.name);
    if (!stage) {
      await this.settled(); // one statement at a time on the connection
      fs.mkdirSync(this.dir, { recursive: true });
      stage = new StreamStage(table, this.dir, await this.isEmpty(table), this.chunkBytes);
      this.stages.set(table.name, stage);
    }
    const closed = stage.chunks.length;
    stage.write(records, Date.now());
    if (stage.chunks.length === closed) return;
    await this.settled();
    this.loading = this.loadClosed().catch((err: unknown) => {
      this.failure = err;
    });
  }

  /**
   * Loads what is left and runs `work` in the loads' transaction, then commits it.
   * Out of memory anywhere: everything is rolled back and run once more, wider.
   */
  async commit<T>(work: () => Promise<T>): Promise<T> {
    await this.settled();
    for (const stage of this.stages.values()) stage.close();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.loadClosed();
        for (const stage of this.stages.values()) stage.checkLoaded();
        await this.useThreads(MERGE_THREADS);
        const result = await work();
        await this.wh.conn.run('COMMIT');
        this.open = false;
        return result;
      } catch (err) {
        await this.rollback();
        if (attempt > 1 || !(await this.widened(err))) throw err;
      }
    }
  }

  /** Rolls back what was loaded and removes the chunks: the sync saves nothing. */
  async abandon(): Promise<void> {
    await this.loading;
    await this.rollback();
    this.remove();
  }

  /** Removes the chunks (after a commit). */
  remove(): void {
    for (const stage of this.stages.values()) stage.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Waits for the load in flight; its failure is thrown here. */
  private async settled(): Promise<void> {
    await this.loading;
    this.loading = undefined;
    const failure = this.failure;
    this.failure = undefined;
    if (failure !== undefined) throw failure;
  }

  /** Loads every closed chunk not loaded yet, in the open transaction (begun if need be). */
  private async loadClosed(): Promise<void> {
    try {
      await this.loadOnce();
    } catch (err) {
      await this.rollback();
      if (!(await this.widened(err))) throw err;
      await this.loadOnce();
    }
  }

  private async loadOnce(): Promise<void> {
    await this.useThreads(LOAD_THREADS);
    if (!this.open) {
      await this.wh.conn.run('BEGIN TRANSACTION');
      this.open = true;
    }
    for (const stage of this.stages.values()) {
      while (stage.loaded < stage.chunks.length) {
        const chunk = stage.chunks[stage.loaded];
        const result = await this.wh.conn.run(stage.loadSql(chunk), [chunk.file]);
        stage.rowsLoaded += Number(result.rowsChanged);
        stage.loaded++;
      }
    }
  }

  /** Ends the open transaction, if any, undoing every load (they are run again from the chunks). */
  private async rollback(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    await this.wh.conn.run('ROLLBACK').catch(() => undefined);
    for (const stage of this.stages.values()) {
      stage.loaded = 0;
      stage.rowsLoaded = 0;
    }
  }

  /** DuckDB's threads for what follows: one for loads (the JSON reader's buffer is per thread), more for the merge. */
  private async useThreads(threads: number): Promise<void> {
    if (threads === this.threads) return;
    await this.wh.conn.run(`SET threads = ${threads}`);
    this.threads = threads;
  }

  /** True when `err` was DuckDB running out of memory and the bound could be widened. */
  private async widened(err: unknown): Promise<boolean> {
    return OUT_OF_MEMORY.test(String(err)) && (await this.wh.widenMemory());
  }

  private async isEmpty(table: StreamTable): Promise<boolean> {
    const [{ n }] = await this.wh.rows(`SELECT count(*)::INTEGER AS n FROM ${table.name}`);
    return Number(n) === 0;
  }
}
