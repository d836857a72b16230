// The open DuckDB file: tables made or checked on open, queries, and a stream's saved state.
import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import path from 'path';
import { duckMessage, openError, precheck, WarehouseError } from './files';
import { commit } from './merge';
import { CommitResult, failRun, markInterrupted, startRun, SyncModeName } from './runs';
import { OFFERS, SCHEMA_SQL, STATE_TABLE } from './schema';

export const DEFAULT_DB = './gokart-offers.duckdb';

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
  static async open(file: string, beforeCommit?: () => void): Promise<Warehouse> {
    precheck(file);
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(path.resolve(file), {
        // Never reach for the network: a SQLite file must not make DuckDB fetch an extension.
        autoinstall_known_extensions: 'false',
        autoload_known_extensions: 'false',
      });
    } catch (err) {
      throw openError(file, err);
    }
    let conn: DuckDBConnection | undefined;
    try {
      conn = await instance.connect();
      const wh = new Warehouse(file, instance, conn, beforeCommit);
      // Timestamps without an offset are read as UTC, whatever the machine's zone.
      await conn.run(`SET TimeZone = 'UTC'`);
      await wh.checkTables();
      await conn.run(SCHEMA_SQL);
      await markInterrupted(wh);
      await conn.run(OFFERS.stageSql);
      return wh;
    } catch (err) {
      conn?.closeSync();
      instance.closeSync();
      if (err instanceof WarehouseError) throw err;
      throw new WarehouseError(`Cannot use the DuckDB database ${file}: ${duckMessage(err)}`);
    }
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
  }

  /** A stream's saved state, as the input state of a read; undefined before its first sync. */
  async loadState(stream: string): Promise<unknown> {
    const rows = await this.rows(
      `SELECT state::VARCHAR AS state FROM ${STATE_TABLE} WHERE stream = $1`,
      [stream],
    );
    if (!rows.length) return undefined;
    const streamState: unknown = JSON.parse(String(rows[0].state));
    return [
      {
        type: 'STREAM',
        stream: { stream_descriptor: { name: stream }, stream_state: streamState },
      },
    ];
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

  commit(
    runId: number,
    mode: SyncModeName,
    stream: string,
    state: Record<string, unknown>,
    records: number,
  ): Promise<CommitResult> {
    return commit(this, runId, mode, stream, state, records);
  }

  async rows(sql: string, values?: (string | number | null)[]): Promise<Record<string, unknown>[]> {
    const reader = await this.conn.runAndReadAll(sql, values);
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  }

  /** A table named like ours but made by something else must not be written into. */
  private async checkTables(): Promise<void> {
    const rows = await this.rows(
      `SELECT column_name AS name, data_type AS type FROM information_schema.columns
       WHERE table_schema = 'main' AND table_name = $1`,
      [OFFERS.name],
    );
    if (!rows.length) return;
    const have = new Map(rows.map((r) => [String(r.name).toLowerCase(), String(r.type)]));
    const wrong = OFFERS.columns.filter((c) => have.get(c.name.toLowerCase()) !== c.type);
    if (wrong.length) {
      throw new WarehouseError(
        `${this.file} already has a table "${OFFERS.name}" that this sync did not create ` +
          `(missing or of another type: ${wrong.map((c) => `${c.name} ${c.type}`).join(', ')}): ` +
          `use another --db file, or drop that table`,
      );
    }
  }
}
