// `bin/main query`'s output: DuckDB values made plain (exact numbers, ISO 8601 times, readable
// lists and JSON), then written as an aligned table (cli-table3), one JSON array, or CSV.
import {
  DuckDBArrayValue,
  DuckDBDecimalValue,
  DuckDBListValue,
  DuckDBMapValue,
  DuckDBStructValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTypeId,
  DuckDBUnionValue,
  DuckDBValue,
} from '@duckdb/node-api';
import Table from 'cli-table3';
import { stripControl } from '../text';

/** Text written into JSON as it is: a number's exact digits, or a JSON column's own text. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** A value ready to print: JSON-like, with exact numbers and JSON documents kept as their text. */
export type Plain = null | boolean | number | string | RawJson | Plain[] | { [key: string]: Plain };

/** A result column: its name, and how its values are shown. */
export interface OutputColumn {
  name: string;
  /** Right-aligned in the table. */
  numeric: boolean;
  /** A JSON column: its text is a JSON document, embedded as such in --json. */
  json: boolean;
}

const NUMERIC = new Set<DuckDBTypeId>([
  DuckDBTypeId.TINYINT,
  DuckDBTypeId.SMALLINT,
  DuckDBTypeId.INTEGER,
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UTINYINT,
  DuckDBTypeId.USMALLINT,
  DuckDBTypeId.UINTEGER,
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.UHUGEINT,
  DuckDBTypeId.FLOAT,
  DuckDBTypeId.DOUBLE,
  DuckDBTypeId.DECIMAL,
]);

export function outputColumn(name: string, typeId: DuckDBTypeId, alias?: string): OutputColumn {
  return { name, numeric: NUMERIC.has(typeId), json: alias === 'JSON' };
}

/**
 * A DuckDB value as a plain one. Integers and decimals keep their exact digits
 * (never a float), timestamps are ISO 8601 (UTC, to the microsecond when it has
 * them), lists are arrays, structs and maps with text keys are objects. What has
 * no JSON equivalent (UUID, interval, blob, date, time) is DuckDB's own text.
 */
export function plainValue(value: DuckDBValue, json = false): Plain {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'string') return json ? new RawJson(value) : value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint' || value instanceof DuckDBDecimalValue) {
    return new RawJson(value.toString());
  }
  if (value instanceof DuckDBTimestampTZValue) return isoTimestamp(value.micros, 'Z', value);
  if (value instanceof DuckDBTimestampValue) return isoTimestamp(value.micros, '', value);
  if (value instanceof DuckDBListValue || value instanceof DuckDBArrayValue) {
    return value.items.map((v) => plainValue(v));
  }
  if (value instanceof DuckDBStructValue) {
    return Object.fromEntries(Object.entries(value.entries).map(([k, v]) => [k, plainValue(v)]));
  }
  if (value instanceof DuckDBMapValue) {
    return value.entries.every((e) => typeof e.key === 'string')
      ? Object.fromEntries(value.entries.map((e) => [e.key, plainValue(e.value)]))
      : value.entries.map((e) => ({ key: plainValue(e.key), value: plainValue(e.value) }));
  }
  if (value instanceof DuckDBUnionValue) return plainValue(value.value);
  return value.toString();
}

/** 2024-05-01T12:00:00.000Z (zone 'Z') or without the Z for a TIMESTAMP; microseconds when nonzero. */
function isoTimestamp(micros: bigint, zone: string, value: DuckDBValue): string {
  const ms = micros >= 0n ? micros / 1000n : -((999n - micros) / 1000n);
  const date = new Date(Number(ms));
  // Beyond JS dates (infinity, year 300000): DuckDB's own text.
  if (Number.isNaN(date.getTime())) return String(value);
  const extra = micros - ms * 1000n;
  const iso = date.toISOString().slice(0, -1);
  return `${iso}${extra ? String(extra).padStart(3, '0') : ''}${zone}`;
}

/** JSON text of a plain value; exact numbers and JSON columns written as they are. */
export function jsonText(value: Plain): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${value.map(jsonText).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const fields = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`);
    return `{${fields.join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A row as one JSON object, keyed by column name. */
export function jsonRow(columns: readonly OutputColumn[], row: readonly Plain[]): string {
  return `{${columns.map((c, i) => `${JSON.stringify(c.name)}:${jsonText(row[i])}`).join(',')}}`;
}

/** A value as text: strings as they are, nested values as JSON; null is undefined. */
function text(value: Plain): string | undefined {
  if (value === null) return undefined;
  return typeof value === 'string' ? value : jsonText(value);
}

/** RFC 4180: a field with a comma, quote, CR or LF is quoted, quotes doubled. NULL is empty, '' is "". */
export function csvLine(values: readonly Plain[]): string {
  return values
    .map((v) => {
      const t = text(v);
      if (t === undefined) return '';
      return t === '' || /[",\r\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
    })
    .join(',');
}

/** Longest cell shown in a table, in characters; longer ones end in "…". */
export const CELL_MAX = 40;
/** Narrowest a column is squeezed to when fitting a terminal. */
const CELL_MIN = 8;

/** A table cell: NULL spelt out, control characters shown escaped, cut at `max` characters. */
export function cellText(value: Plain, max = CELL_MAX): string {
  const t = text(value);
  if (t === undefined) return 'NULL';
  return truncate(stripControl(t.replace(/\r?\n/g, '\\n').replace(/\t/g, '\\t')), max);
}

function truncate(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('')}…`;
}

/**
 * An aligned table (plain borders, no colours: a log or a pipe reads it as well),
 * numbers right-aligned. Cells are cut at CELL_MAX characters, and columns are
 * narrowed further (never below CELL_MIN) when the table would be wider than `width`.
 */
export function renderTable(
  columns: readonly OutputColumn[],
  rows: readonly (readonly Plain[])[],
  width?: number,
): string {
  const limits = columnLimits(columns, rows, width);
  const table = new Table({
    head: columns.map((c, i) => truncate(c.name, limits[i])),
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  for (const row of rows) {
    table.push(
      row.map((v, i) => ({
        content: cellText(v, limits[i]),
        hAlign: columns[i].numeric ? ('right' as const) : ('left' as const),
      })),
    );
  }
  return table.toString();
}

/** Each column's widest cell, capped at CELL_MAX; the widest ones narrowed until the table fits. */
function columnLimits(
  columns: readonly OutputColumn[],
  rows: readonly (readonly Plain[])[],
  width?: number,
): number[] {
  const limits = columns.map((c, i) =>
    Math.max([...c.name].length, ...rows.map((r) => [...cellText(r[i])].length)),
  );
  // Each column takes its text, a space either side and a border; plus the last border.
  const total = () => limits.reduce((sum, w) => sum + w + 3, 1);
  while (width && total() > width) {
    const widest = limits.indexOf(Math.max(...limits));
    if (limits[widest] <= CELL_MIN) break;
    limits[widest] -= 1;
  }
  return limits;
}
