// The warehouse's tables: a stream's typed table derived from its JSON schema, the state and run logs, and staging.
import fs from 'fs';
import type { JSONSchema7, JSONSchema7Definition } from 'json-schema';
import path from 'path';
import { MAX_RESPONSE_BYTES } from '../api/client';
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
 * Records are staged page by page as JSON lines, every column typed in JS (see
 * stageLine), which DuckDB loads into the table (a first sync) or a temp stage
 * table that the commit merges from (see staging.ts and merge.ts).
 */
export class StreamTable {
  readonly columns: readonly Column[];
  /** The temp table of rows to merge (see stageSql); gone with the process. */
  readonly stage: string;
  /** The columns the sync writes, but `id` (user columns are not among them). */
  readonly valueColumns: readonly string[];
  private readonly fields: readonly TypedField[];

  constructor(
    readonly name: string,
    schema: JSONSchema7,
  ) {
    this.stage = `_${name}_stage`;
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
   * column) beside each column's value, typed here: timestamps as epoch ms by the
   * connector's own date parser (so the table and the cursor agree), amounts as decimal
   * text, strings and lists of strings as they are; a value of the wrong type as null
   * (the JSON keeps it).
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
    let line = `{"id":${JSON.stringify(record.id)}`;
    for (const f of this.fields) line += `,"${f.name}":${typedJson(f.typing, record[f.name])}`;
    return `${line},"_airbyte_data":${data},"_airbyte_extracted_at":${at}}`;
  }

  /**
   * Loads one stage chunk (the statement's parameter $1) into `into` with DuckDB's JSON reader,
   * each value cast to its column's type. DuckDB casts text to a 38-digit decimal some 100 times
   * slower than to an 18-digit one: amounts below 10^9 take the fast path, the rest the slow one.
   */
  loadSql(into: string): string {
    const json: Record<Typing, string> = {
      timestamp: 'BIGINT',
      decimal: 'VARCHAR',
      strings: 'VARCHAR[]',
      string: 'VARCHAR',
    };
    const typings: [string, Typing | 'json'][] = [
      ['id', 'string'],
      ...this.fields.map((f): [string, Typing] => [f.name, f.typing]),
      ['_airbyte_data', 'json'],
      ['_airbyte_extracted_at', 'timestamp'],
    ];
    const select = ([name, typing]: [string, Typing | 'json']): string => {
      if (typing === 'timestamp') return `epoch_ms(${name})::TIMESTAMPTZ`;
      if (typing !== 'decimal') return name;
      return `coalesce(TRY_CAST(TRY_CAST(${name} AS DECIMAL(18, 9)) AS DECIMAL(38, 9)),
    TRY_CAST(${name} AS DECIMAL(38, 9)))`;
    };
    const columns = typings
      .map(([name, typing]) => `${name}: '${typing === 'json' ? 'JSON' : json[typing]}'`)
      .join(', ');
    return `INSERT INTO ${into} (${typings.map(([name]) => name).join(', ')})
SELECT ${typings.map(select).join(',\n  ')}
FROM read_json($1, format = 'newline_delimited', maximum_object_size = ${MAX_STAGE_LINE},
  columns = {${columns}})`;
  }
}

/**
 * The longest stage line DuckDB reads (its JSON reader holds twice this per thread): a
 * record is at most a whole response, and its line holds it and its typed copies.
 */
const MAX_STAGE_LINE = 2 * MAX_RESPONSE_BYTES + 1024 * 1024;

/** A field's value as its stage line holds it, as JSON text (see stageLine). */
function typedJson(typing: Typing, value: unknown): string {
  switch (typing) {
    case 'timestamp':
      return String(parseDateTime(value) ?? null);
    case 'decimal': {
      const text = decimalText(value);
      return text === null ? 'null' : `"${text}"`; // digits, sign, point and exponent only
    }
    case 'string':
      return typeof value === 'string' ? JSON.stringify(value) : 'null';
    case 'strings':
      return Array.isArray(value) && value.every((v) => v === null || typeof v === 'string')
        ? JSON.stringify(value)
        : 'null';
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
