// The commit of a sync: staged rows, the state covering them and the run's success, in one transaction.
import type { Warehouse } from './database';
import { CommitResult, SyncModeName, succeedRun } from './runs';
import { OFFERS, STATE_TABLE } from './schema';

const TABLE = OFFERS.name;
const NEW_TABLE = `${TABLE}__new`;

/**
 * Lands the staged rows and the state that covers them in one transaction,
 * and marks the run succeeded in it too. The new table is built beside the
 * old one and swapped in: for an incremental sync, the old rows whose id was
 * not read plus every row read (an upsert by id); for a full refresh, just the
 * rows read. Rewriting 100k rows this way takes under a second, where DuckDB's
 * row-by-row ON CONFLICT update took seven, and dropping the old table lets
 * DuckDB reuse its space, so the file does not grow with each sync.
 */
export async function commit(
  wh: Warehouse,
  runId: number,
  mode: SyncModeName,
  stream: string,
  state: Record<string, unknown>,
  records: number,
): Promise<CommitResult> {
  const { conn } = wh;
  const batch = `temp.${OFFERS.batch}`;
  const columns = OFFERS.columnList;
  await conn.run(OFFERS.batchSql);
  let result: CommitResult;
  await conn.run('BEGIN TRANSACTION');
  try {
    const [counts] = await wh.rows(
      `SELECT
         (SELECT count(*) FROM ${batch} b ANTI JOIN ${TABLE} o USING (id))::INTEGER AS inserted,
         (SELECT count(*) FROM ${batch} b JOIN ${TABLE} o USING (id)
           WHERE o._airbyte_data::VARCHAR IS DISTINCT FROM b._airbyte_data::VARCHAR)::INTEGER AS updated,
         (SELECT count(*) FROM ${TABLE} o ANTI JOIN ${batch} b USING (id))::INTEGER AS unread`,
    );
    const kept =
      mode === 'incremental'
        ? `SELECT ${columns} FROM ${TABLE} o ANTI JOIN ${batch} b USING (id) UNION ALL `
        : '';
    // Indexes a user added go with the old table: made again on the new one.
    // (Views need nothing: DuckDB binds them by name when queried.)
    const indexes = await wh.rows(
      `SELECT sql FROM duckdb_indexes()
       WHERE database_name = current_database() AND schema_name = 'main' AND table_name = $1
         AND sql IS NOT NULL`,
      [TABLE],
    );
    await conn.run(`DROP TABLE IF EXISTS ${NEW_TABLE}`);
    await conn.run(OFFERS.createSql(NEW_TABLE));
    await conn.run(`INSERT INTO ${NEW_TABLE} ${kept}SELECT ${columns} FROM ${batch}`);
    await conn.run(`DROP TABLE ${TABLE}`);
    await conn.run(`ALTER TABLE ${NEW_TABLE} RENAME TO ${TABLE}`);
    for (const { sql } of indexes) await conn.run(String(sql));
    const [{ total }] = await wh.rows(`SELECT count(*)::INTEGER AS total FROM ${TABLE}`);
    await conn.run(
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
    await succeedRun(wh, runId, result);
    wh.beforeCommit?.(); // tests: die with everything written but not committed
    await conn.run('COMMIT');
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
  await conn.run(`DELETE FROM temp.${OFFERS.stage}`);
  await conn.run(`DROP TABLE ${batch}`);
  return result;
}
