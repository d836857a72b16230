/**
 * An embedded DuckDB warehouse for the offers stream: the typed `offers` table,
 * the stream state beside it, and a log of sync runs. Its ReadSink stages each
 * page and lands a whole read, rows and state together, in one transaction.
 */
import {
  DuckDBAppender,
  DuckDBConnection,
  DuckDBInstance,
  DuckDBTimestampTZValue,
} from '@duckdb/node-api';
import fs from 'fs';
import path from 'path';
import { LogLevel } from './airbyte/messages';
import { ApiRecord } from './api/types';
import { parseDateTime } from './dates';
import { ReadEvent, retryMessage } from './read/events';

export const DEFAULT_DB = './gokart-offers.duckdb';
export const OFFERS_TABLE = 'offers';
export const STATE_TABLE = '_sync_state';
export const RUNS_TABLE = '_sync_runs';

export type SyncModeName = 'incremental' | 'full_refresh';

/** A database that cannot be used: the message names the path and what to do. */
export class WarehouseError extends Error {
  override name = 'WarehouseError';
}

/**
 * One typed column per field of resources/schemas/offers.json, typed the way
 * warehouse destinations type them, plus the record and its extraction time.
 * The names keep the schema's spelling; DuckDB matches identifiers without
 * regard to case, so `launchdate` works in queries too.
 */
const OFFER_COLUMNS: readonly [name: string, type: string, constraint?: string][] = [
  ['id', 'VARCHAR', 'PRIMARY KEY'],
  ['categories', 'VARCHAR[]'],
  ['name', 'VARCHAR'],
  // DECIMAL(38, 9): DuckDB's widest exact decimal, 29 digits before the point
  // and 9 after, so any money amount (and most token sub-units) is kept exactly
  // and sums do not drift the way DOUBLE sums do. See budgetText for what
  // precision actually reaches it.
  ['budgetAmount', 'DECIMAL(38,9)'],
  ['launchDate', 'TIMESTAMP WITH TIME ZONE'],
  ['endDate', 'TIMESTAMP WITH TIME ZONE'],
  ['offerType', 'VARCHAR'],
  // The whole record as the API sent it, so fields the API adds later are kept.
  ['_airbyte_data', 'JSON', 'NOT NULL'],
  ['_airbyte_extracted_at', 'TIMESTAMP WITH TIME ZONE', 'NOT NULL'],
];

/** Also builds the replacement table of each commit. */
const offersTableSql = (table: string, ifNotExists = '') =>
  `CREATE TABLE ${ifNotExists}${table} (\n` +
  OFFER_COLUMNS.map(
    ([c, type, constraint]) => `  ${c} ${type}${constraint ? ` ${constraint}` : ''}`,
  ).join(',\n') +
  '\n)';

const SCHEMA_SQL = `
${offersTableSql(OFFERS_TABLE, 'IF NOT EXISTS ')};
CREATE TABLE IF NOT EXISTS ${STATE_TABLE} (
  stream VARCHAR PRIMARY KEY,
  state JSON NOT NULL,
  run_id INTEGER,
  updated_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS ${RUNS_TABLE} (
  run_id INTEGER PRIMARY KEY,
  started_at TIMESTAMPTZ NOT NULL,
  ended_at TIMESTAMPTZ,
  mode VARCHAR NOT NULL,
  outcome VARCHAR NOT NULL,
  records BIGINT,
  inserted BIGINT,
  updated BIGINT,
  deleted BIGINT,
  rows_after BIGINT,
  cursor VARCHAR,
  error VARCHAR
);`;

/** Pages land here (a temp table: never in the database file, gone with the process). */
const STAGE = '_offers_stage';
/** The staged rows, typed and deduplicated by id, for the commit. */
const BATCH = '_offers_batch';

const STAGE_SQL = `CREATE OR REPLACE TEMP TABLE ${STAGE} (
  seq INTEGER, id VARCHAR, budget VARCHAR, launch_at TIMESTAMPTZ, end_at TIMESTAMPTZ,
  data VARCHAR, extracted_at TIMESTAMPTZ)`;

/**
 * Typed from the record's JSON; a value of the wrong type becomes NULL (the JSON keeps it).
 * The dates were typed in JS by the connector's own parser, so the table and the cursor agree.
 */
const BATCH_SQL = `CREATE OR REPLACE TEMP TABLE ${BATCH} AS
SELECT
  id,
  TRY_CAST(data -> '$.categories' AS VARCHAR[]) AS categories,
  data ->> '$.name' AS name,
  -- DuckDB casts text to a 38-digit decimal some 100 times slower than to an
  -- 18-digit one: amounts below 10^9 take the fast path, the rest the slow one.
  coalesce(
    TRY_CAST(TRY_CAST(budget AS DECIMAL(18, 9)) AS DECIMAL(38, 9)),
    TRY_CAST(budget AS DECIMAL(38, 9))
  ) AS budgetAmount,
  launch_at AS launchDate,
  end_at AS endDate,
  data ->> '$.offerType' AS offerType,
  data::JSON AS _airbyte_data,
  extracted_at AS _airbyte_extracted_at
FROM temp.${STAGE}
QUALIFY row_number() OVER (PARTITION BY id ORDER BY seq DESC) = 1`;

const COLUMN_LIST = OFFER_COLUMNS.map(([c]) => c).join(', ');
const NEW_TABLE = `${OFFERS_TABLE}__new`;

/**
 * The budget as decimal text for an exact DECIMAL cast. The client has already
 * run the response through JSON.parse, so a JSON number arrives here as an IEEE
 * double: String() gives the shortest decimal that round-trips to it, which is
 * the API's own text whenever that had at most 15 significant digits (every
 * two-decimal amount below 10^13). Longer numbers were rounded to 17 significant
 * digits before we saw them; DECIMAL(38, 9) then keeps that value exactly, rounding
 * only past 9 decimals, and one beyond 10^29 becomes NULL (the JSON column keeps it).
 * A numeric string is taken digit for digit.
 */
export function budgetText(value: unknown): string | null {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : null;
  if (typeof value === 'string' && /^\s*-?\d+(\.\d+)?([eE][+-]?\d+)?\s*$/.test(value)) {
    return value.trim();
  }
  return null;
}

export interface CommitResult {
  records: number;
  inserted: number;
  updated: number;
  deleted: number;
  rowsAfter: number;
  cursor?: string;
}

export interface SinkHooks {
  /** Records read so far in this run. */
  records?(total: number): void;
  /** The stream's row estimate (the inventory size). */
  estimate?(rows: number): void;
  /** The read finished; rows and state are being written. */
  committing?(): void;
  log?(level: LogLevel, message: string): void;
}

/** An open warehouse. One process at a time: DuckDB locks the file. */
export class Warehouse {
  private constructor(
    readonly file: string,
    private readonly instance: DuckDBInstance,
    readonly conn: DuckDBConnection,
  ) {}

  /** Opens (or creates) the database and its tables; WarehouseError says what is wrong. */
  static async open(file: string): Promise<Warehouse> {
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
      const wh = new Warehouse(file, instance, conn);
      // Timestamps without an offset are read as UTC, whatever the machine's zone.
      await conn.run(`SET TimeZone = 'UTC'`);
      await wh.checkTables();
      await conn.run(SCHEMA_SQL);
      // We hold the file's lock, so a run still marked running was stopped mid-way.
      await conn.run(
        `UPDATE ${RUNS_TABLE} SET outcome = 'interrupted',
           error = 'the sync stopped before it finished (killed or crashed); nothing it read was saved'
         WHERE outcome = 'running'`,
      );
      await conn.run(STAGE_SQL);
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

  /** Records a run as running; returns its id. */
  async startRun(mode: SyncModeName): Promise<number> {
    const [{ id }] = await this.rows(
      `SELECT coalesce(max(run_id), 0) + 1 AS id FROM ${RUNS_TABLE}`,
    );
    await this.conn.run(
      `INSERT INTO ${RUNS_TABLE} (run_id, started_at, mode, outcome) VALUES ($1, now(), $2, 'running')`,
      [Number(id), mode],
    );
    return Number(id);
  }

  async failRun(
    runId: number,
    records: number,
    error: string,
    outcome: 'failed' | 'interrupted' = 'failed',
  ): Promise<void> {
    await this.conn.run(
      `UPDATE ${RUNS_TABLE} SET ended_at = now(), outcome = $4, records = $1, error = $2
       WHERE run_id = $3`,
      [records, error, runId, outcome],
    );
  }

  sink(stream: string, runId: number, mode: SyncModeName, hooks: SinkHooks = {}): WarehouseSink {
    return new WarehouseSink(this, stream, runId, mode, hooks);
  }

  /**
   * Lands the staged rows and the state that covers them in one transaction,
   * and marks the run succeeded in it too. The new table is built beside the
   * old one and swapped in: for an incremental sync, the old rows whose id was
   * not read plus every row read (an upsert by id); for a full refresh, just the
   * rows read. Rewriting 100k rows this way takes under a second, where DuckDB's
   * row-by-row ON CONFLICT update took seven, and dropping the old table lets
   * DuckDB reuse its space, so the file does not grow with each sync.
   */
  async commit(
    runId: number,
    mode: SyncModeName,
    stream: string,
    state: Record<string, unknown>,
    records: number,
  ): Promise<CommitResult> {
    await this.conn.run(BATCH_SQL);
    let result: CommitResult;
    await this.conn.run('BEGIN TRANSACTION');
    try {
      const [counts] = await this.rows(
        `SELECT
           (SELECT count(*) FROM temp.${BATCH} b ANTI JOIN ${OFFERS_TABLE} o USING (id))::INTEGER AS inserted,
           (SELECT count(*) FROM temp.${BATCH} b JOIN ${OFFERS_TABLE} o USING (id)
             WHERE o._airbyte_data::VARCHAR IS DISTINCT FROM b._airbyte_data::VARCHAR)::INTEGER AS updated,
           (SELECT count(*) FROM ${OFFERS_TABLE} o ANTI JOIN temp.${BATCH} b USING (id))::INTEGER AS unread`,
      );
      const kept =
        mode === 'incremental'
          ? `SELECT ${COLUMN_LIST} FROM ${OFFERS_TABLE} o ANTI JOIN temp.${BATCH} b USING (id) UNION ALL `
          : '';
      // Indexes a user added go with the old table: made again on the new one.
      // (Views need nothing: DuckDB binds them by name when queried.)
      const indexes = await this.rows(
        `SELECT sql FROM duckdb_indexes()
         WHERE database_name = current_database() AND schema_name = 'main' AND table_name = $1
           AND sql IS NOT NULL`,
        [OFFERS_TABLE],
      );
      await this.conn.run(`DROP TABLE IF EXISTS ${NEW_TABLE}`);
      await this.conn.run(offersTableSql(NEW_TABLE));
      await this.conn.run(
        `INSERT INTO ${NEW_TABLE} ${kept}SELECT ${COLUMN_LIST} FROM temp.${BATCH}`,
      );
      await this.conn.run(`DROP TABLE ${OFFERS_TABLE}`);
      await this.conn.run(`ALTER TABLE ${NEW_TABLE} RENAME TO ${OFFERS_TABLE}`);
      for (const { sql } of indexes) await this.conn.run(String(sql));
      const [{ total }] = await this.rows(`SELECT count(*)::INTEGER AS total FROM ${OFFERS_TABLE}`);
      await this.conn.run(
        `INSERT INTO ${STATE_TABLE} (stream, state, run_id, updated_at) VALUES ($1, $2::JSON, $3, now())
         ON CONFLICT (stream) DO UPDATE SET state = excluded.state, run_id = excluded.run_id,
           updated_at = excluded.updated_at`,
        [stream, JSON.stringify(state), runId],
      );
      result = {
        records,
        inserted: Number(counts.inserted),
        updated: Number(counts.updated),
        deleted: mode === 'full_refresh' ? Number(counts.unread) : 0,
        rowsAfter: Number(total),
        cursor: typeof state.launchDate === 'string' ? state.launchDate : undefined,
      };
      await this.conn.run(
        `UPDATE ${RUNS_TABLE} SET ended_at = now(), outcome = 'succeeded', records = $1,
           inserted = $2, updated = $3, deleted = $4, rows_after = $5, cursor = $6, error = NULL
         WHERE run_id = $7`,
        [
          records,
          result.inserted,
          result.updated,
          result.deleted,
          result.rowsAfter,
          result.cursor ?? null,
          runId,
        ],
      );
      // Fault injection for the tests: die with everything written but not committed.
      if (process.env.GOKART_SYNC_KILL_BEFORE_COMMIT === '1') process.kill(process.pid, 'SIGKILL');
      await this.conn.run('COMMIT');
    } catch (err) {
      await this.conn.run('ROLLBACK').catch(() => undefined);
      throw err;
    }
    await this.conn.run(`DELETE FROM temp.${STAGE}`);
    await this.conn.run(`DROP TABLE temp.${BATCH}`);
    return result;
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
      [OFFERS_TABLE],
    );
    if (!rows.length) return;
    const have = new Map(rows.map((r) => [String(r.name).toLowerCase(), String(r.type)]));
    const wrong = OFFER_COLUMNS.filter(([c, t]) => have.get(c.toLowerCase()) !== t);
    if (wrong.length) {
      throw new WarehouseError(
        `${this.file} already has a table "${OFFERS_TABLE}" that this sync did not create ` +
          `(missing or of another type: ${wrong.map(([c, t]) => `${c} ${t}`).join(', ')}): ` +
          `use another --db file, or drop that table`,
      );
    }
  }
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
      this.appender ??= await this.wh.conn.createAppender(STAGE, 'main', 'temp');
      const a = this.appender;
      const at = new DuckDBTimestampTZValue(BigInt(Date.now()) * 1000n);
      const appendDate = (value: unknown) => {
        const ms = parseDateTime(value);
        if (ms === undefined) a.appendNull();
        else a.appendTimestampTZ(new DuckDBTimestampTZValue(BigInt(ms) * 1000n));
      };
      for (const received of records) {
        let record = received;
        let data = JSON.stringify(record);
        // JSON.stringify escapes lone surrogates (as \ud800) and only them; DuckDB's JSON refuses those.
        if (/\\ud[89a-f]/.test(data)) {
          record = wellFormed(record) as ApiRecord;
          data = JSON.stringify(record);
        }
        a.appendInteger(this.seq++);
        a.appendVarchar(record.id);
        const budget = budgetText(record.budgetAmount);
        if (budget === null) a.appendNull();
        else a.appendVarchar(budget);
        appendDate(record.launchDate);
        appendDate(record.endDate);
        a.appendVarchar(data);
        a.appendTimestampTZ(at);
        a.endRow();
      }
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

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** A copy with every lone UTF-16 surrogate replaced by U+FFFD (String.prototype.toWellFormed), keys too. */
function wellFormed(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(LONE_SURROGATE, '\ufffd');
  if (Array.isArray(value)) return value.map(wellFormed);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [wellFormed(k) as string, wellFormed(v)]),
  );
}

/** Problems we can name before DuckDB sees the path. */
function precheck(file: string): void {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') {
      throw new WarehouseError(
        `Cannot create the database ${file}: part of that path is a file, not a directory; choose another --db path`,
      );
    }
    if (code !== 'ENOENT') return; // let DuckDB report it
  }
  if (stat === undefined) {
    const dir = path.dirname(path.resolve(file));
    if (!fs.existsSync(dir)) {
      throw new WarehouseError(
        `Cannot create the database ${file}: the directory ${dir} does not exist; create it or choose another --db path`,
      );
    }
    return;
  }
  if (stat.isDirectory()) {
    throw new WarehouseError(
      `${file} is a directory, not a database file: pass a file path such as ${path.join(file, 'gokart-offers.duckdb')}`,
    );
  }
  if (!stat.isFile()) return;
  const head = Buffer.alloc(16);
  const read = readHead(file, head);
  if (read === undefined) return; // unreadable: DuckDB's own error says why
  // A DuckDB file has the magic bytes "DUCK" at offset 8.
  if (read >= 12 && head.toString('latin1', 8, 12) === 'DUCK') return;
  const what =
    read === 0
      ? 'it is empty'
      : head.toString('latin1', 0, 15) === 'SQLite format 3'
        ? 'it is a SQLite database'
        : 'its header is not a DuckDB header';
  throw new WarehouseError(
    `${file} is not a DuckDB database (${what}); nothing was written to it. ` +
      `Pass --db a new file name or an existing DuckDB database`,
  );
}

/** Bytes read from the start of a file, or undefined when it cannot be read. */
function readHead(file: string, into: Buffer): number | undefined {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      return fs.readSync(fd, into, 0, into.length, 0);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

function openError(file: string, err: unknown): WarehouseError {
  const message = duckMessage(err);
  const lock = /Could not set lock on file[^:]*:\s*(.*?)(?:\s*See also|$)/s.exec(message);
  if (lock) {
    const pid = /PID (\d+)/.exec(lock[1])?.[1];
    return new WarehouseError(
      `The database ${file} is in use by another process${pid ? ` (PID ${pid})` : ''}: ` +
        `DuckDB allows one writer at a time. Wait for it to finish or stop it, then run sync again`,
    );
  }
  if (/not a valid DuckDB database/i.test(message)) {
    return new WarehouseError(
      `${file} is not a DuckDB database; nothing was written to it. Pass --db a new file name or an existing DuckDB database`,
    );
  }
  const cannot = /Cannot open file "[^"]*":\s*(.*)$/s.exec(message);
  if (cannot) {
    return new WarehouseError(
      `Cannot create or open the database ${file} (${cannot[1].trim()}): choose a writable location with --db`,
    );
  }
  return new WarehouseError(`Cannot open the DuckDB database ${file}: ${message}`);
}

/** DuckDB's error text on one line, without its "IO Error: " style prefix. */
function duckMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text
    .replace(/^[A-Za-z ]+ Error:\s*/, '')
    .replace(/\s*\n\s*/g, ' ')
    .trim();
}
