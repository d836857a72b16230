// The warehouse's tables: a stream's typed table derived from its JSON schema, the state and run logs, and staging.
import { DuckDBAppender, DuckDBTimestampValue } from '@duckdb/node-api';
import fs from 'fs';
import type { JSONSchema7, JSONSchema7Definition } from 'json-schema';
import path from 'path';
import { parseDateTime } from '../dates';
import { STREAMS } from '../streams';
import { RESOURCES_DIR } from '../validators';

export const STATE_TABLE = '_sync_state';
export const RUNS_TABLE = '_sync_runs';

/** How a field is typed in its column (see columnTyping). */
type Typing = 'timestamp' | 'decimal' | 'strings' | 'string';

/** DuckDB's own spelling of each type, as information_schema reports it (checkTables compares them). */
const SQL_TYPE: Record<Typing, string> = {
  timestamp: 'TIMESTAMP WITH TIME ZONE',
  // DECIMAL(38, 9): DuckDB's widest exact decimal, 29 digits before the point
  // and 9 after, so any money amount (and most token sub-units) is kept exactly
  // and sums do not drift the way DOUBLE sums do. See decimalText for what
  // precision actually reaches it.
  decimal: 'DECIMAL(38,9)',
  strings: 'VARCHAR[]',
  string: 'VARCHAR',
};

export interface Column {
  name: string;
  type: string;
  constraint?: string;
}

/**
 * A field's column type, the way warehouse destinations type Airbyte schemas:
 * string + format date-time → TIMESTAMPTZ, number → DECIMAL(38,9), array of
 * strings → VARCHAR[], string → VARCHAR ("null" alongside is allowed). Other
 * fields get no column; the JSON column keeps them.
 */
function columnTyping(def: JSONSchema7Definition | undefined): Typing | undefined {
  if (typeof def !== 'object') return undefined;
  const types = [def.type ?? []].flat().filter((t) => t !== 'null');
  if (types.length !== 1) return undefined;
  if (types[0] === 'string') return def.format === 'date-time' ? 'timestamp' : 'string';
  if (types[0] === 'number') return 'decimal';
  const items = Array.isArray(def.items) ? undefined : def.items;
  return types[0] === 'array' && columnTyping(items) === 'string' ? 'strings' : undefined;
}

interface TypedField {
  name: string;
  typing: Typing;
}

/**
 * A stream's table: its primary key `id`, one typed column per field of its
 * JSON schema (names kept as spelled there: DuckDB matches identifiers without
 * regard to case, so `launchdate` works in queries too), the whole record as the
 * API sent it (fields the API adds later are kept) and its extraction time.
 * Records are staged page by page in a temp table (never in the database file;
 * it spills to DuckDB's temp directory beyond its memory_limit), every column typed
 * in JS (dates by the connector's own parser, so the table and the cursor agree).
 */
export class StreamTable {
  readonly columns: readonly Column[];
  /** Pages land here; gone with the process. */
  readonly stage: string;
  /** A view of the staged rows, typed and deduplicated by id, for the commit. */
  readonly batch: string;
  /** The columns the sync writes, but `id` (user columns are not among them). */
  readonly valueColumns: readonly string[];
  private readonly fields: readonly TypedField[];

  constructor(
    readonly name: string,
    schema: JSONSchema7,
  ) {
    this.stage = `_${name}_stage`;
    this.batch = `_${name}_batch`;
    this.fields = Object.entries(schema.properties ?? {}).flatMap(([field, def]) => {
      const typing = columnTyping(def);
      return field !== 'id' && /^[A-Za-z_]\w*$/.test(field) && typing
        ? [{ name: field, typing }]
        : [];
    });
    this.columns = [
      // Unique, kept so by the merge (see merge.ts) rather than by a PRIMARY KEY: its index
      // had to be loaded, updated and rewritten whole by every commit (1,000,000 offers: +140 MiB
      // and +2 s for an incremental of 5,000). Tables made before keep their key; both work.
      { name: 'id', type: 'VARCHAR', constraint: 'NOT NULL' },
      ...this.fields.map((f) => ({ name: f.name, type: SQL_TYPE[f.typing] })),
      { name: '_airbyte_data', type: 'JSON', constraint: 'NOT NULL' },
      { name: '_airbyte_extracted_at', type: SQL_TYPE.timestamp, constraint: 'NOT NULL' },
    ];
    this.valueColumns = this.columns.slice(1).map((c) => c.name);
  }

  get columnList(): string {
    return this.columns.map((c) => c.name).join(', ');
  }

  /** The table's DDL, made once: commits merge into it, never rebuild it. */
  get createSql(): string {
    const cols = this.columns.map(
      (c) => `  ${c.name} ${c.type}${c.constraint ? ` ${c.constraint}` : ''}`,
    );
    return `CREATE TABLE IF NOT EXISTS ${this.name} (\n${cols.join(',\n')}\n)`;
  }

  /**
   * The stage has the table's columns, typed in JS while appending (no JSON is parsed
   * again in DuckDB): timestamps as TIMESTAMP (the appender's fast path; UTC, made
   * TIMESTAMPTZ by the batch view), amounts as decimal text (cast by the view), the
   * record as JSON (JSON.stringify's text, stored as is).
   */
  get stageSql(): string {
    const type = (c: Column): string =>
      c.type === SQL_TYPE.timestamp
        ? 'TIMESTAMP'
        : c.type === SQL_TYPE.strings
          ? 'JSON'
          : c.type === SQL_TYPE.decimal
            ? 'VARCHAR'
            : c.type;
    return `CREATE OR REPLACE TEMP TABLE ${this.stage} (\n${this.columns.map((c) => `  ${c.name} ${type(c)}`).join(',\n')}\n)`;
  }

  /**
   * The staged rows as the table's types: a value of the wrong type is NULL (the JSON keeps it).
   * Not deduplicated: the read emits an id at most once per sync, which the commit checks.
   */
  get batchSql(): string {
    const select = (c: Column): string => {
      if (c.type === SQL_TYPE.timestamp) return `${c.name}::TIMESTAMPTZ AS ${c.name}`;
      if (c.type === SQL_TYPE.strings) return `${c.name}::VARCHAR[] AS ${c.name}`;
      if (c.type !== SQL_TYPE.decimal) return c.name;
      // DuckDB casts text to a 38-digit decimal some 100 times slower than to an
      // 18-digit one: amounts below 10^9 take the fast path, the rest the slow one.
      return `coalesce(TRY_CAST(TRY_CAST(${c.name} AS DECIMAL(18, 9)) AS DECIMAL(38, 9)),
    TRY_CAST(${c.name} AS DECIMAL(38, 9))) AS ${c.name}`;
    };
    return `CREATE OR REPLACE TEMP VIEW ${this.batch} AS
SELECT
${this.columns.map((c) => `  ${select(c)}`).join(',\n')}
FROM temp.${this.stage}`;
  }

  /** Appends records to the stage, in its column order. */
  append(a: DuckDBAppender, records: readonly Offer[]): void {
    const at = new DuckDBTimestampValue(BigInt(Date.now()) * 1000n);
    for (const received of records) {
      let record = received;
      let data = JSON.stringify(record);
      // JSON.stringify escapes lone surrogates (as \ud800) and only them; DuckDB's JSON refuses those.
      if (/\\ud[89a-f]/.test(data)) {
        record = wellFormed(record) as Offer;
        data = JSON.stringify(record);
      }
      a.appendVarchar(record.id);
      for (const f of this.fields) {
        const value = record[f.name];
        if (f.typing === 'timestamp') {
          const ms = parseDateTime(value);
          if (ms === undefined) a.appendNull();
          else a.appendTimestamp(new DuckDBTimestampValue(BigInt(ms) * 1000n));
        } else if (f.typing === 'decimal') {
          const text = decimalText(value);
          if (text === null) a.appendNull();
          else a.appendVarchar(text);
        } else if (f.typing === 'string') {
          if (typeof value === 'string') a.appendVarchar(value);
          else a.appendNull();
        } else if (
          Array.isArray(value) &&
          value.every((v) => v === null || typeof v === 'string')
        ) {
          a.appendVarchar(JSON.stringify(value));
        } else a.appendNull();
      }
      a.appendVarchar(data);
      a.appendTimestamp(at);
      a.endRow();
    }
  }
}

/** A record as staged: its id and its fields. */
type Offer = { id: string; [field: string]: unknown };

/** The table of a stream whose JSON schema is resources/schemas/<name>.json. */
export function streamTable(name: string): StreamTable {
  const file = path.join(RESOURCES_DIR, 'schemas', `${name}.json`);
  return new StreamTable(name, JSON.parse(fs.readFileSync(file, 'utf8')) as JSONSchema7);
}

/** The table of every stream in STREAMS, made on open. */
export const TABLES: ReadonlyMap<string, StreamTable> = new Map(
  STREAMS.map((s) => [s.name, streamTable(s.name)]),
);

export const SCHEMA_SQL = `
${[...TABLES.values()].map((t) => t.createSql + ';\n').join('')}CREATE TABLE IF NOT EXISTS ${STATE_TABLE} (
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
);
ALTER TABLE ${RUNS_TABLE} ADD COLUMN IF NOT EXISTS streams JSON;`;

/**
 * A number as decimal text for an exact DECIMAL cast. The client has already
 * run the response through JSON.parse, so a JSON number arrives here as an IEEE
 * double: String() gives the shortest decimal that round-trips to it, which is
 * the API's own text whenever that had at most 15 significant digits (every
 * two-decimal amount below 10^13). Longer numbers were rounded to 17 significant
 * digits before we saw them; DECIMAL(38, 9) then keeps that value exactly, rounding
 * only past 9 decimals, and one beyond 10^29 becomes NULL (the JSON column keeps it).
 * A numeric string is taken digit for digit.
 */
export function decimalText(value: unknown): string | null {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : null;
  if (typeof value === 'string' && /^\s*-?\d+(\.\d+)?([eE][+-]?\d+)?\s*$/.test(value)) {
    return value.trim();
  }
  return null;
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
