// `bin/main query`: one SQL query on a sync's database, opened read-only, printed as a table,
// JSON or CSV (format.ts); with no SQL, a summary: rows per table, the newest offers, the last runs.
import { DuckDBConnection, DuckDBResult } from '@duckdb/node-api';
import { Writable } from 'stream';
import { writeAwaited } from '../airbyte/writer';
import fs from 'fs';
import path from 'path';
import { stripControl } from '../text';
import { connectDuckDb, precheck, WarehouseError } from './files';
import {
  csvLine,
  jsonRow,
  outputColumn,
  OutputColumn,
  Plain,
  plainValue,
  renderTable,
} from './format';
import { RUNS_TABLE, STATE_TABLE, TABLES } from './schema';

const OFFERS_TABLE = 'offers';

export type QueryFormat = 'table' | 'json' | 'csv';

/** Most rows a table shows; --json and --csv print every row. */
export const TABLE_ROWS = 100;

/** An open database file that existed before. */
export interface Database {
  file: string;
  conn: DuckDBConnection;
  close(): void;
}

/**
 * Opens a database that `bin/main sync` made, never creating one: read-only
 * unless `write`. DuckDB reads and writes no other file (no COPY TO, ATTACH,
 * read_csv, extension downloads). `again` is what to run once a lock is free.
 */
export async function openExisting(
  file: string,
  opts: { write?: boolean; again: string },
): Promise<Database> {
  if (!fs.existsSync(file)) {
    throw new WarehouseError(
      `No database at ${file}${path.isAbsolute(file) ? '' : ` (${path.resolve(file)})`}; nothing was created. Make one with ` +
        `\`bin/main sync --config config.json --db ${shellWord(file)}\`, or run \`npm run demo\` ` +
        `(it keeps ./gokart-demo.duckdb), or pass --db the file a sync wrote`,
    );
  }
  precheck(file);
  const { instance, conn } = await connectDuckDb(
    file,
    {
      access_mode: opts.write ? 'READ_WRITE' : 'READ_ONLY',
      enable_external_access: 'false',
    },
    opts.again,
  );
  return {
    file,
    conn,
    close: () => {
      conn.closeSync();
      instance.closeSync();
    },
  };
}

/** The CLI command: returns the exit code; errors are one line on stderr. */
export async function queryCommand(
  sql: string | undefined,
  opts: { db: string; format: QueryFormat },
  out: Writable & { isTTY?: boolean; columns?: number } = process.stdout,
): Promise<number> {
  const summary = !sql?.trim();
  if (summary && opts.format === 'csv') {
    process.stderr.write('query: --csv needs a SQL query (the summary is a table, or --json)\n');
    return 2;
  }
  const width = out.isTTY ? out.columns : undefined;
  let db: Database | undefined;
  try {
    db = await openExisting(opts.db, { again: 'run the query again' });
    const output: Output = { write: (text) => writeAwaited(out, text) };
    if (summary) await printSummary(db, opts.format, output, width);
    else await printQuery(db.conn, sql ?? '', opts.format, output, width);
    return 0;
  } catch (err) {
    process.stderr.write(`query failed: ${queryError(err)}\n`);
    return 1;
  } finally {
    db?.close();
  }
}

/** Writes to stdout, waiting when the reader is slower than the query. */
interface Output {
  write(text: string): Promise<void>;
}

async function printQuery(
  conn: DuckDBConnection,
  sql: string,
  format: QueryFormat,
  out: Output,
  width?: number,
): Promise<void> {
  const statements = await conn.extractStatements(sql);
  if (statements.count !== 1) {
    throw new WarehouseError(
      `give one SQL statement (got ${statements.count}); run several one by one`,
    );
  }
  const result = await conn.stream(sql);
  const columns = columnsOf(result);
  if (format === 'table') {
    const rows: Plain[][] = [];
    let total = 0;
    for await (const chunk of chunks(result, columns, () => rows.length < TABLE_ROWS)) {
      total += chunk.count;
      rows.push(...chunk.rows.slice(0, TABLE_ROWS - rows.length));
    }
    const shown =
      total > rows.length
        ? `(${rows.length} of ${total.toLocaleString('en-US')} rows shown: add a LIMIT, or use --csv or --json for all)`
        : `(${total === 1 ? '1 row' : `${total.toLocaleString('en-US')} rows`})`;
    await out.write(`${renderTable(columns, rows, width)}\n${shown}\n`);
  } else if (format === 'csv') {
    await out.write(csvLine(columns.map((c) => c.name)) + '\n');
    for await (const { rows } of chunks(result, columns)) {
      await out.write(rows.map((r) => csvLine(r) + '\n').join(''));
    }
  } else {
    let first = true;
    for await (const { rows } of chunks(result, columns)) {
      for (const row of rows) {
        await out.write(`${first ? '[\n' : ',\n'}${jsonRow(columns, row)}`);
        first = false;
      }
    }
    await out.write(first ? '[]\n' : '\n]\n');
  }
}

function columnsOf(result: DuckDBResult): OutputColumn[] {
  return result
    .columnNames()
    .map((name, i) =>
      outputColumn(name, result.columnType(i).typeId, result.columnLogicalType(i).alias),
    );
}

/**
 * The result's rows chunk by chunk (DuckDB streams them: a million rows never sit
 * in memory), made plain while `convert()` says so; after that only counted.
 */
async function* chunks(
  result: DuckDBResult,
  columns: readonly OutputColumn[],
  convert: () => boolean = () => true,
): AsyncGenerator<{ count: number; rows: Plain[][] }> {
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) return;
    const rows = convert()
      ? chunk.getRows().map((row) => row.map((v, i) => plainValue(v, columns[i].json)))
      : [];
    yield { count: chunk.rowCount, rows };
  }
}

/** A small query's columns and rows, for the summary. */
async function collect(
  conn: DuckDBConnection,
  sql: string,
): Promise<{ columns: OutputColumn[]; rows: Plain[][] }> {
  const result = await conn.stream(sql);
  const columns = columnsOf(result);
  const rows: Plain[][] = [];
  for await (const chunk of chunks(result, columns)) rows.push(...chunk.rows);
  return { columns, rows };
}

/** The tables `bin/main sync` makes, in the order the summary lists them. */
const OUR_TABLES = [...TABLES.keys(), STATE_TABLE, RUNS_TABLE];

async function printSummary(
  db: Database,
  format: QueryFormat,
  out: Output,
  width?: number,
): Promise<void> {
  const present = await collect(
    db.conn,
    `SELECT table_name FROM duckdb_tables()
     WHERE database_name = current_database() AND schema_name = 'main'`,
  );
  const have = new Set(present.rows.map((r) => String(r[0])));
  const ours = OUR_TABLES.filter((t) => have.has(t));
  const sections: { title: string; key: string; sql: string }[] = [];
  if (ours.length) {
    sections.push({
      title: 'Tables',
      key: 'tables',
      sql: ours
        .map((t) => `SELECT '${t}' AS "table", count(*) AS "rows" FROM ${t}`)
        .join(' UNION ALL '),
    });
  }
  if (have.has(OFFERS_TABLE)) {
    sections.push({
      title: 'Newest offers',
      key: 'newest_offers',
      sql: `SELECT name, launchDate, offerType, budgetAmount FROM ${OFFERS_TABLE}
            ORDER BY launchDate DESC NULLS LAST, id LIMIT 5`,
    });
  }
  if (have.has(RUNS_TABLE)) {
    sections.push({
      title: 'Last runs (newest first)',
      key: 'last_runs',
      sql: `SELECT run_id, started_at, mode, outcome, records, inserted, updated, deleted, error
            FROM ${RUNS_TABLE} ORDER BY run_id DESC LIMIT 5`,
    });
  }
  const results = [];
  for (const s of sections) results.push({ ...s, ...(await collect(db.conn, s.sql)) });

  if (format === 'json') {
    const fields = results.map(
      (r) => `${JSON.stringify(r.key)}:[${r.rows.map((row) => jsonRow(r.columns, row)).join(',')}]`,
    );
    await out.write(`{${[`"db":${JSON.stringify(db.file)}`, ...fields].join(',')}}\n`);
    return;
  }
  const parts = [`Database ${db.file} (opened read-only)`];
  if (!ours.length) {
    parts.push(
      `It has none of the tables bin/main sync makes (${OUR_TABLES.join(', ')}); ` +
        `its tables: ${[...have].join(', ') || 'none'}`,
    );
  }
  for (const r of results) parts.push(`${r.title}:\n${renderTable(r.columns, r.rows, width)}`);
  parts.push(
    `Try a query (add --json or --csv for scripts):\n  bin/main query --db ${shellWord(db.file)} ` +
      `"SELECT offerType, count(*) AS offers, sum(budgetAmount) AS budget FROM offers GROUP BY ALL"`,
  );
  await out.write(parts.join('\n\n') + '\n');
}

/** DuckDB's own message on one line (without its LINE/caret excerpt), and why a write is refused. */
export function queryError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  let line = stripControl(
    message
      .replace(/^Failed to extract statements: /, '')
      .split(/\n\s*LINE \d+:/)[0]
      .replace(/\s*\n\s*/g, ' '),
  ).trim();
  if (/read-only mode/i.test(line)) {
    line += ' (bin/main query opens the database read-only: it never changes it)';
  } else if (/file system operations are disabled/i.test(line)) {
    line += ' (bin/main query reads the database only, no other file)';
  }
  return line;
}

/** A path as one shell word, quoted when it needs to be. */
function shellWord(s: string): string {
  return /^[\w./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
