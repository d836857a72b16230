// The open DuckDB file: tables made or checked on open, queries, and a stream's saved state.
import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import fs from 'fs';
import type { Tuning } from '../config';
import { connectDuckDb, duckMessage, precheck, WarehouseError } from './files';
import { commit, StreamPart } from './merge';
import { failRun, markInterrupted, startRun, StreamCommit, SyncModeName } from './runs';
import { SCHEMA_SQL, STATE_TABLE, StreamTable, TABLES } from './schema';
import { LOAD_THREADS, stageDir, Staging } from './staging';

export const DEFAULT_DB = './gokart-offers.duckdb';

/**
 * DuckDB's own memory, bounded (its default is 80% of the machine): the merge's joins
 * spill to `<db>.tmp` beyond it, and DuckDB caches blocks up to it. Its JSON reader (the
 * loads, see staging.ts) holds a 32 MiB buffer within it (more for a chunk with a line
 * over 16 MiB). It is not all DuckDB takes:
 * loading 1,000,000 offers into a table took some 140 MiB more, which no setting tried
 * lowered (threads, memory_limit, allocator flush thresholds, glibc's arenas). A load or
 * commit that runs out of memory is rolled back whole and run again from the staged
 * chunks under the wide bound: the merge into a wide table (offer_details, about 1.4 KB a
 * record) ran out at 64MB on 20,000 records. An index must fit in memory, so a stream
 * table with one (a user's, or the primary key of tables made by earlier versions) lifts
 * the bound to DuckDB's default. See docs/gokart.md (memory).
 */
export const DUCKDB_MEMORY_LIMIT = '64MB';
export const DUCKDB_MEMORY_LIMIT_WIDE = '1GB';

/** An open warehouse. One process at a time: DuckDB locks the file. */
export class Warehouse {
  private constructor(
    readonly file: string,
    private readonly instance: DuckDBInstance,
    readonly conn: DuckDBConnection,
    /** Called in the commit transaction just before COMMIT (Tuning.beforeCommit). */
    readonly beforeCommit?: () => void,
  ) {}

  /** Opens (or creates) the database and its tables; WarehouseError says what is wrong. */
  static async open(file: string, tuning: Tuning = {}): Promise<Warehouse> {
    precheck(file);
    const { instance, conn } = await connectDuckDb(file, {
      threads: String(LOAD_THREADS),
      // Rows need no particular order in a table; not keeping it lets inserts stream.
      preserve_insertion_order: 'false',
    });
    try {
      const wh = new Warehouse(file, instance, conn, tuning.beforeCommit);
      await wh.checkTables();
      await conn.run(SCHEMA_SQL);
      if (!(await wh.indexed())) {
        wh.memoryBound = tuning.duckdbMemoryLimit ?? DUCKDB_MEMORY_LIMIT;
        await conn.run(`SET memory_limit = '${wh.memoryBound}'`);
      }
      await markInterrupted(wh);
      // A sync killed while staging left its chunks; with the file locked, no sync is using them.
      fs.rmSync(stageDir(file), { recursive: true, force: true });
      for (const table of TABLES.values()) await conn.run(table.stageSql);
      return wh;
    } catch (err) {
      conn.closeSync();
      instance.closeSync();
      if (err instanceof WarehouseError) throw err;
      throw new WarehouseError(`Cannot use the DuckDB database ${file}: ${duckMessage(err)}`);
    }
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
  }

  /** The streams' saved states, as the input state of a read (per-stream Airbyte states). */
  async loadStates(streams: readonly string[]): Promise<unknown[]> {
    const rows = await this.rows(
      `SELECT stream, state::VARCHAR AS state FROM ${STATE_TABLE} ORDER BY stream`,
    );
    return rows
      .filter((r) => streams.includes(String(r.stream)))
      .map((r) => ({
        type: 'STREAM',
        stream: {
          stream_descriptor: { name: String(r.stream) },
          stream_state: JSON.parse(String(r.state)) as unknown,
        },
      }));
  }

  // The run log (runs.ts) and the commit (merge.ts), as methods of the open database.
  startRun(mode: SyncModeName): Promise<number> {
    return startRun(this, mode);
  }

  failRun(
    runId: number,
    records: number,
    error: string,
    outcome?: 'failed' | 'interrupted',
  ): Promise<void> {
    return failRun(this, runId, records, error, outcome);
  }

  commit(runId: number, parts: readonly StreamPart[], staging: Staging): Promise<StreamCommit[]> {
    return commit(this, runId, parts, staging);
  }

  /** The memory_limit this sync set; undefined: DuckDB's default. */
  private memoryBound?: string;

  /** Lifts a low memory_limit to the wide one; false when there is nothing to lift. */
  async widenMemory(): Promise<boolean> {
    if (this.memoryBound === undefined || this.memoryBound === DUCKDB_MEMORY_LIMIT_WIDE)
      return false;
    await this.conn.run(`SET memory_limit = '${DUCKDB_MEMORY_LIMIT_WIDE}'`);
    this.memoryBound = DUCKDB_MEMORY_LIMIT_WIDE;
    return true;
  }

  async rows(sql: string, values?: (string | number | null)[]): Promise<Record<string, unknown>[]> {
    const reader = await this.conn.runAndReadAll(sql, values);
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  }

  /** Whether a stream table has an index (a primary key included). */
  private async indexed(): Promise<boolean> {
    const ours = `database_name = current_database() AND table_name IN (${[...TABLES.keys()].map((t) => `'${t}'`).join(', ')})`;
    const [{ n }] = await this.rows(
      `SELECT (SELECT count(*) FROM duckdb_indexes() WHERE ${ours}) +
         (SELECT count(*) FROM duckdb_constraints()
          WHERE ${ours} AND constraint_type IN ('PRIMARY KEY', 'UNIQUE'))::INTEGER AS n`,
    );
    return Number(n) > 0;
  }

  /** A table named like ours but made by something else must not be written into. */
  private async checkTables(): Promise<void> {
    for (const table of TABLES.values()) await this.checkTable(table);
  }

  private async checkTable(table: StreamTable): Promise<void> {
    const rows = await this.rows(
      `SELECT column_name AS name, data_type AS type FROM information_schema.columns
       WHERE table_schema = 'main' AND table_name = $1`,
      [table.name],
    );
    if (!rows.length) return;
    const have = new Map(rows.map((r) => [String(r.name).toLowerCase(), String(r.type)]));
    const wrong = table.columns.filter((c) => have.get(c.name.toLowerCase()) !== c.type);
    if (wrong.length) {
      throw new WarehouseError(
        `${this.file} already has a table "${table.name}" that this sync did not create ` +
          `(missing or of another type: ${wrong.map((c) => `${c.name} ${c.type}`).join(', ')}): ` +
          `use another --db file, or drop that table`,
      );
    }
  }
}
