// The warehouse's tables: a stream's typed table derived from its JSON schema, the state and run logs, and staging.
import fs from 'fs';
import type { JSONSchema7, JSONSchema7Definition } from 'json-schema';
import path from 'path';
import { ApiRecord } from '../api/types';
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
  // and sums do not drift the way DOUBLE sums do. See isAmount for what
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
 * Records are staged as JSON lines (see stageLine), which DuckDB
 * loads into the table (a first sync) or a temp stage table that the commit
 * merges from (see staging.ts and merge.ts).
 */
export class StreamTable {
  readonly columns: readonly Column[];
  /** The temp table of rows to merge (see stageSql); gone with the process. */
  readonly stage: string;
  /** The columns the sync writes, but `id` (user columns are not among them). */
  readonly valueColumns: readonly string[];
  private readonly fields: readonly TypedField[];
  /** The fields typed in JS (stageLine), and those DuckDB takes from the JSON (loadSql). */
  private readonly timestamps: readonly TypedField[];
  private readonly fromJson: readonly { name: string; typing: Exclude<Typing, 'timestamp'> }[];

  constructor(
    readonly name: string,
    schema: JSONSchema7,
  ) {
    this.stage = `_${name}_stage`;
    this.fields = Object.entries(schema.properties ?? {}).flatMap(([field, def]) => {
      const typing = columnTyping(def);
      return !RESERVED.has(field.toLowerCase()) && /^[A-Za-z_]\w*$/.test(field) && typing
        ? [{ name: field, typing }]
        : [];
    });
    this.timestamps = this.fields.filter((f) => f.typing === 'timestamp');
    this.fromJson = this.fields.flatMap(({ name, typing }) =>
      typing === 'timestamp' ? [] : [{ name, typing }],
    );
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

  /** The table's DDL, made once: commits merge into it, never rebuild it. */
  get createSql(): string {
    const cols = this.columns.map(
      (c) => `  ${c.name} ${c.type}${c.constraint ? ` ${c.constraint}` : ''}`,
    );
    return `CREATE TABLE IF NOT EXISTS ${this.name} (\n${cols.join(',\n')}\n)`;
  }

  /** The temp table a stream's rows are loaded into when its table already has rows: the table's own types. */
  get stageSql(): string {
    return `CREATE OR REPLACE TEMP TABLE ${this.stage} (\n${this.columns.map((c) => `  ${c.name} ${c.type}`).join(',\n')}\n)`;
  }

  /**
   * A record as one line of a stage chunk (see staging.ts): the record itself (the JSON
   * column), its timestamp fields as epoch ms, typed here by the connector's own date parser
   * (so the table and the cursor agree), and one character per other field: `1` when its
   * value has its column's type (or is null), else `0`. DuckDB takes those fields' values
   * from the JSON itself (see loadSql), so nothing is serialised twice; a value of the wrong
   * type is null in its column (the JSON keeps it).
   */
  stageLine(received: ApiRecord, at: number): string {
    let record = received;
    let data = JSON.stringify(record);
    // JSON.stringify escapes lone surrogates (as \ud800) and only them; DuckDB's JSON refuses those.
    if (data.includes('\\ud') && /\\ud[89a-f]/.test(data)) {
      record = wellFormed(record) as ApiRecord;
      data = JSON.stringify(record);
    }
    // Built as text: field names are plain identifiers (see the constructor).
    let line = `{"_airbyte_extracted_at":${at}`;
    for (const f of this.timestamps)
      line += `,"${f.name}":${parseDateTime(record[f.name]) ?? null}`;
    let typed = '';
    for (const f of this.fromJson) {
      const value = record[f.name];
      typed += value === null || value === undefined || hasType(f.typing, value) ? '1' : '0';
    }
    return `${line},"${TYPED_KEY}":"${typed}","_airbyte_data":${data}}`;
  }

  /**
   * Loads one stage chunk (the statement's parameter $1; no line longer than `longestLine`
   * bytes) into `into` with DuckDB's JSON reader: timestamps from their epoch ms, every other
   * column from the record's JSON in one pass (json_transform), kept only where stageLine
   * found it of the right type. DuckDB casts text to a 38-digit decimal some 100 times slower
   * than to an 18-digit one: amounts below 10^9 take the fast path, the rest the slow one.
   */
  loadSql(into: string, longestLine: number): string {
    const shape = Object.fromEntries([
      ['id', 'VARCHAR'],
      ...this.fromJson.map((f) => [f.name, f.typing === 'strings' ? ['VARCHAR'] : 'VARCHAR']),
    ]);
    const fromJson = (f: TypedField): string => {
      const value = `_s.${f.name}`;
      const typed =
        f.typing === 'decimal'
          ? `coalesce(TRY_CAST(TRY_CAST(trim(${value}) AS DECIMAL(18, 9)) AS DECIMAL(38, 9)),
    TRY_CAST(trim(${value}) AS DECIMAL(38, 9)))`
          : value;
      const bit = this.fromJson.findIndex((j) => j.name === f.name) + 1;
      return `CASE WHEN ${TYPED_KEY}[${bit}] = '1' THEN ${typed} END`;
    };
    const select = [
      '_s.id',
      ...this.fields.map((f) =>
        f.typing === 'timestamp' ? `epoch_ms(${f.name})::TIMESTAMPTZ` : fromJson(f),
      ),
      '_airbyte_data',
      'epoch_ms(_airbyte_extracted_at)::TIMESTAMPTZ',
    ];
    const columns = [
      `_airbyte_extracted_at: 'BIGINT'`,
      ...this.timestamps.map((f) => `${f.name}: 'BIGINT'`),
      `${TYPED_KEY}: 'VARCHAR'`,
      `_airbyte_data: 'JSON'`,
    ];
    return `INSERT INTO ${into} (${this.columns.map((c) => c.name).join(', ')})
SELECT ${select.join(',\n  ')}
FROM (SELECT *, json_transform(_airbyte_data, '${JSON.stringify(shape)}') AS _s
  FROM read_json($1, format = 'newline_delimited', maximum_object_size = ${Math.max(longestLine + 1, MIN_OBJECT_SIZE)},
    columns = {${columns.join(', ')}}))`;
  }
}

/** A stage line's key for which fields stageLine found of their column's type. */
const TYPED_KEY = '_stage_typed';

/** Names the table or a stage line uses itself: a schema field so named gets no column (the JSON keeps it). */
const RESERVED = new Set(['id', '_airbyte_data', '_airbyte_extracted_at', TYPED_KEY]);

/**
 * The smallest maximum_object_size a load gives DuckDB's JSON reader: its own default. The
 * reader holds a buffer of twice this per thread (32 MiB: no smaller value shrinks it); a
 * chunk with a longer line (a page of very large records) gets that line's length.
 */
const MIN_OBJECT_SIZE = 16 * 1024 * 1024;

/** True when a value (not null) can go into its field's column (see columnTyping and loadSql). */
function hasType(typing: Exclude<Typing, 'timestamp'>, value: unknown): boolean {
  switch (typing) {
    case 'decimal':
      return isAmount(value);
    case 'string':
      return typeof value === 'string';
    case 'strings':
      return Array.isArray(value) && value.every((v) => v === null || typeof v === 'string');
  }
}

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
 * True for a value DuckDB casts exactly to DECIMAL(38, 9) from the record's JSON (loadSql): a
 * number, or a numeric string (taken digit for digit, blanks around it trimmed). The client has
 * already run the response through JSON.parse, so the JSON holds a number as JavaScript wrote
 * the IEEE double: the shortest decimal that round-trips to it, which is the API's own text
 * whenever that had at most 15 significant digits (every two-decimal amount below 10^13).
 * Longer numbers were rounded to 17 significant digits before we saw them; DECIMAL(38, 9) then
 * keeps that value exactly, rounding only past 9 decimals, and one beyond 10^29 becomes NULL
 * (the JSON column keeps it).
 */
function isAmount(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  return typeof value === 'string' && /^\s*-?\d+(\.\d+)?([eE][+-]?\d+)?\s*$/.test(value);
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
