// Diagnostics for the --db file: what is wrong with a path before and after DuckDB opens it.
import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import fs from 'fs';
import path from 'path';

/** A database that cannot be used: the message names the path and what to do. */
export class WarehouseError extends Error {
  override name = 'WarehouseError';
}

/** Problems we can name before DuckDB sees the path. */
export function precheck(file: string): void {
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

/**
 * DuckDB's refusal to open the file, worded for the user (lock, not DuckDB, not writable);
 * `again` is what to run once the lock is free.
 */
export function openError(file: string, err: unknown, again = 'run sync again'): WarehouseError {
  const message = duckMessage(err);
  const lock = /Could not set lock on file[^:]*:\s*(.*?)(?:\s*See also|$)/s.exec(message);
  if (lock) {
    const pid = /PID (\d+)/.exec(lock[1])?.[1];
    return new WarehouseError(
      `The database ${file} is in use by another process${pid ? ` (PID ${pid})` : ''}: ` +
        `DuckDB allows one writer at a time. Wait for it to finish or stop it, then ${again}`,
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
export function duckMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text
    .replace(/^[A-Za-z ]+ Error:\s*/, '')
    .replace(/\s*\n\s*/g, ' ')
    .trim();
}

/**
 * DuckDB on `file` with `options`, for sync, query and state alike: never reaching for the
 * network (a SQLite file must not make DuckDB fetch an extension), timestamps without an
 * offset read as UTC whatever the machine's zone. A refusal to open is worded by openError
 * (`again`: what to run once a lock is free); a failure after it names the file.
 */
export async function connectDuckDb(
  file: string,
  options: Record<string, string>,
  again?: string,
): Promise<{ instance: DuckDBInstance; conn: DuckDBConnection }> {
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(path.resolve(file), {
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
      ...options,
    });
  } catch (err) {
    throw openError(file, err, again);
  }
  let conn: DuckDBConnection | undefined;
  try {
    conn = await instance.connect();
    await conn.run(`SET TimeZone = 'UTC'`);
    return { instance, conn };
  } catch (err) {
    conn?.closeSync();
    instance.closeSync();
    throw new WarehouseError(`Cannot use the DuckDB database ${file}: ${duckMessage(err)}`);
  }
}
