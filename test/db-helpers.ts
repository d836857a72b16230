import { DuckDBInstance } from '@duckdb/node-api';

/** Runs a query on a sync's database, then closes it so the next sync can lock the file. */
export async function queryDb<T = Record<string, unknown>>(db: string, sql: string): Promise<T[]> {
  const instance = await DuckDBInstance.create(db);
  try {
    const conn = await instance.connect();
    try {
      return (await conn.runAndReadAll(sql)).getRowObjectsJS() as T[];
    } finally {
      conn.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}
