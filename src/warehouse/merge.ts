// The commit of a sync: every stream's staged rows, the states covering them and the run's success, in one transaction.
import type { Warehouse } from './database';
import { StreamCommit, SyncModeName, succeedRun } from './runs';
import { STATE_TABLE, StreamTable } from './schema';

/** One stream's completed read, ready to land. */
export interface StreamPart {
  table: StreamTable;
  mode: SyncModeName;
  state: Record<string, unknown>;
  records: number;
  /** The state's field that holds the cursor (the stream's cursorField), if any. */
  cursorField?: string;
}

/**
 * Lands every stream's staged rows and the states that cover them in one
 * transaction, and marks the run succeeded in it too. Each table is merged
 * into, never rebuilt, so columns, indexes and views a user added stay, and an
 * incremental sync costs what it read: a full refresh first deletes the rows
 * whose id the completed scan did not see; rows whose JSON changed are updated
 * (the sync's columns only: a user's column keeps its value); new ids are
 * inserted. The counts are the statements' own.
 */
export async function commit(
  wh: Warehouse,
  runId: number,
  parts: readonly StreamPart[],
): Promise<StreamCommit[]> {
  let results: StreamCommit[];
  try {
    results = await commitOnce(wh, runId, parts);
  } catch (err) {
    // Rolled back whole: run it again with more memory, if there is more to give.
    if (!OUT_OF_MEMORY.test(String(err)) || !(await wh.widenMemory())) throw err;
    results = await commitOnce(wh, runId, parts);
  }
  for (const { table } of parts) {
    await wh.conn.run(`DROP VIEW temp.${table.batch}`);
    await wh.conn.run(`DELETE FROM temp.${table.stage}`);
  }
  return results;
}

/** DuckDB's words when a statement could not get the memory it needed. */
const OUT_OF_MEMORY = /Out of Memory Error|failed to allocate data/;

async function commitOnce(
  wh: Warehouse,
  runId: number,
  parts: readonly StreamPart[],
): Promise<StreamCommit[]> {
  const { conn } = wh;
  for (const { table } of parts) await conn.run(table.batchSql);
  const results: StreamCommit[] = [];
  await conn.run('BEGIN TRANSACTION');
  try {
    for (const part of parts) results.push(await mergeStream(wh, runId, part));
    await succeedRun(wh, runId, results);
    wh.beforeCommit?.(); // tests: die with everything written but not committed
    await conn.run('COMMIT');
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return results;
}

/**
 * The statements of one stream, inside the commit's transaction. The update
 * sets only changed rows (the JSON differs), so DuckDB's over-eager unique
 * check on updated indexed rows never meets a row deleted or inserted in the
 * same transaction: deleted ids were not read, inserted ids were not there.
 */
async function mergeStream(wh: Warehouse, runId: number, part: StreamPart): Promise<StreamCommit> {
  const { table, mode, state } = part;
  const target = table.name;
  const batch = `temp.${table.batch}`;
  const cols = table.valueColumns;
  const changed = async (sql: string) => Number((await wh.conn.run(sql)).rowsChanged);
  // The read emits an id at most once per sync (src/read/scan/dedup.ts); the table's ids stay
  // unique only if the stage's are, so this is checked rather than trusted.
  const [twice] = await wh.rows(
    `SELECT id FROM temp.${table.stage} GROUP BY id HAVING count(*) > 1 LIMIT 1`,
  );
  if (twice)
    throw new Error(`internal: the read staged the ${target} record ${String(twice.id)} twice`);
  const deleted =
    mode === 'full_refresh'
      ? await changed(`DELETE FROM ${target} WHERE id NOT IN (SELECT id FROM ${batch})`)
      : 0;
  const updated = await changed(
    `UPDATE ${target} AS t SET ${cols.map((c) => `${c} = b.${c}`).join(', ')}
     FROM ${batch} AS b
     WHERE t.id = b.id AND t._airbyte_data::VARCHAR IS DISTINCT FROM b._airbyte_data::VARCHAR`,
  );
  const inserted = await changed(
    `INSERT INTO ${target} (id, ${cols.join(', ')})
     SELECT id, ${cols.join(', ')} FROM ${batch} ANTI JOIN ${target} USING (id)`,
  );
  const [{ total }] = await wh.rows(`SELECT count(*)::BIGINT AS total FROM ${target}`);
  // A full-refresh stream's state is empty: it keeps no row in _sync_state.
  if (Object.keys(state).length) {
    await wh.conn.run(
      `INSERT INTO ${STATE_TABLE} (stream, state, run_id, updated_at) VALUES ($1, $2::JSON, $3, now())
       ON CONFLICT (stream) DO UPDATE SET state = excluded.state, run_id = excluded.run_id,
         updated_at = excluded.updated_at`,
      [target, JSON.stringify(state), runId],
    );
  }
  const cursor = part.cursorField === undefined ? undefined : state[part.cursorField];
  return {
    stream: target,
    mode,
    records: part.records,
    inserted,
    updated,
    deleted,
    rowsAfter: Number(total),
    ...(typeof cursor === 'string' ? { cursor } : {}),
  };
}
