// The commit of a sync: every stream's staged rows, the states covering them and the run's success, in one transaction.
import type { Warehouse } from './database';
import { StreamCommit, SyncModeName, succeedRun } from './runs';
import { STATE_TABLE, StreamTable } from './schema';
import { Staging, StreamStage } from './staging';

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
 * inserted. A table that was empty got its rows straight from the loads. The
 * counts are the statements' own.
 */
export async function commit(
  wh: Warehouse,
  runId: number,
  parts: readonly StreamPart[],
  staging: Staging,
): Promise<StreamCommit[]> {
  const results = await staging.commit(async () => {
    const results: StreamCommit[] = [];
    for (const part of parts)
      results.push(await mergeStream(wh, runId, part, staging.stage(part.table.name)));
    await succeedRun(wh, runId, results);
    wh.beforeCommit?.(); // tests: die with everything written but not committed
    return results;
  });
  staging.remove();
  for (const { table } of parts) await wh.conn.run(`DELETE FROM temp.${table.stage}`);
  return results;
}

/**
 * The statements of one stream, inside the commit's transaction. The update
 * sets only changed rows (the JSON differs), so DuckDB's over-eager unique
 * check on updated indexed rows never meets a row deleted or inserted in the
 * same transaction: deleted ids were not read, inserted ids were not there.
 */
async function mergeStream(
  wh: Warehouse,
  runId: number,
  part: StreamPart,
  stage?: StreamStage,
): Promise<StreamCommit> {
  const { table, mode, state } = part;
  const target = table.name;
  const staged = `temp.${table.stage}`;
  const cols = table.valueColumns;
  const changed = async (sql: string) => Number((await wh.conn.run(sql)).rowsChanged);
  // The read emits an id at most once per sync (src/read/scan/dedup.ts); the table's ids stay
  // unique only if the loaded rows' are, so this is checked rather than trusted.
  const [twice] = await wh.rows(
    `SELECT id FROM ${stage?.direct ? target : staged} GROUP BY id HAVING count(*) > 1 LIMIT 1`,
  );
  if (twice)
    throw new Error(`internal: the read staged the ${target} record ${String(twice.id)} twice`);
  let deleted = 0;
  let updated = 0;
  let inserted = stage?.direct ? stage.rowsLoaded : 0;
  if (!stage?.direct) {
    if (mode === 'full_refresh')
      deleted = await changed(`DELETE FROM ${target} WHERE id NOT IN (SELECT id FROM ${staged})`);
    updated = await changed(
      `UPDATE ${target} AS t SET ${cols.map((c) => `${c} = s.${c}`).join(', ')}
       FROM ${staged} AS s
       WHERE t.id = s.id AND t._airbyte_data::VARCHAR IS DISTINCT FROM s._airbyte_data::VARCHAR`,
    );
    inserted = await changed(
      `INSERT INTO ${target} (id, ${cols.join(', ')})
       SELECT id, ${cols.join(', ')} FROM ${staged} ANTI JOIN ${target} USING (id)`,
    );
  }
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
