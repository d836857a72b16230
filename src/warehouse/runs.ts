// The _sync_runs log: every sync is a row, from running to succeeded, failed or interrupted.
import type { Warehouse } from './database';
import { RUNS_TABLE } from './schema';

export type SyncModeName = 'incremental' | 'full_refresh';

/** What a successful commit changed in one stream's table. */
export interface StreamCommit {
  stream: string;
  mode: SyncModeName;
  records: number;
  inserted: number;
  updated: number;
  deleted: number;
  rowsAfter: number;
  cursor?: string;
}

/** Records a run as running; returns its id. */
export async function startRun(wh: Warehouse, mode: SyncModeName): Promise<number> {
  const [{ id }] = await wh.rows(`SELECT coalesce(max(run_id), 0) + 1 AS id FROM ${RUNS_TABLE}`);
  await wh.conn.run(
    `INSERT INTO ${RUNS_TABLE} (run_id, started_at, mode, outcome) VALUES ($1, now(), $2, 'running')`,
    [Number(id), mode],
  );
  return Number(id);
}

export async function failRun(
  wh: Warehouse,
  runId: number,
  records: number,
  error: string,
  outcome: 'failed' | 'interrupted' = 'failed',
): Promise<void> {
  await wh.conn.run(
    `UPDATE ${RUNS_TABLE} SET ended_at = now(), outcome = $4, records = $1, error = $2
     WHERE run_id = $3`,
    [records, error, runId, outcome],
  );
}

/**
 * Marks the run succeeded; the commit runs it inside its transaction. The count
 * columns are the run's first stream's (offers, unless --streams says otherwise);
 * `streams` holds every stream's commit as a JSON list.
 */
export async function succeedRun(
  wh: Warehouse,
  runId: number,
  commits: readonly StreamCommit[],
): Promise<void> {
  const r = commits[0];
  await wh.conn.run(
    `UPDATE ${RUNS_TABLE} SET ended_at = now(), outcome = 'succeeded', records = $1,
       inserted = $2, updated = $3, deleted = $4, rows_after = $5, cursor = $6, error = NULL,
       streams = $7::JSON
     WHERE run_id = $8`,
    [
      r.records,
      r.inserted,
      r.updated,
      r.deleted,
      r.rowsAfter,
      r.cursor ?? null,
      JSON.stringify(commits),
      runId,
    ],
  );
}

/** On open: we hold the file's lock, so a run still marked running was stopped mid-way. */
export async function markInterrupted(wh: Warehouse): Promise<void> {
  await wh.conn.run(
    `UPDATE ${RUNS_TABLE} SET outcome = 'interrupted',
       error = 'the sync stopped before it finished (killed or crashed); nothing it read was saved'
     WHERE outcome = 'running'`,
  );
}
