// `bin/main state`: the saved state of each stream in a sync's database, and `--reset` to clear it.
import { STREAMS } from '../streams';
import { singular } from '../text';
import { Database, openExisting, queryError } from './query';
import { STATE_TABLE } from './schema';

export interface StateOptions {
  db: string;
  json?: boolean;
  reset?: boolean;
  /** Only this stream (default: every stream). */
  stream?: string;
}

/** One stream's saved state, as _sync_state holds it. */
interface Saved {
  stream: string;
  state: Record<string, unknown>;
  runId: number | null;
  savedAt: string;
}

/** The CLI command: returns the exit code; errors are one line on stderr. */
export async function stateCommand(opts: StateOptions): Promise<number> {
  // Only a stream with a cursor has a state worth showing: the others are read in full every sync.
  const names = STREAMS.filter((s) => s.cursorField).map((s) => s.name);
  if (opts.stream !== undefined && !names.includes(opts.stream)) {
    process.stderr.write(
      `state: ${STREAMS.some((s) => s.name === opts.stream) ? `the ${opts.stream} stream is read in full every sync and keeps no state` : `unknown stream "${opts.stream}"`}; ` +
        `the streams with a state are ${names.join(', ')}\n`,
    );
    return 2;
  }
  let db: Database | undefined;
  try {
    db = await openExisting(opts.db, {
      write: opts.reset,
      again: `run bin/main state${opts.reset ? ' --reset' : ''} again`,
    });
    if (opts.reset) await reset(db, opts.stream ? [opts.stream] : names);
    else await show(db, opts.stream ? [opts.stream] : names, opts.json, !opts.stream);
    return 0;
  } catch (err) {
    process.stderr.write(`state${opts.reset ? ' --reset' : ''} failed: ${queryError(err)}\n`);
    return 1;
  } finally {
    db?.close();
  }
}

async function savedStates(db: Database): Promise<Saved[]> {
  const reader = await db.conn.runAndReadAll(
    `SELECT count(*)::INTEGER AS n FROM duckdb_tables()
     WHERE database_name = current_database() AND schema_name = 'main' AND table_name = $1`,
    [STATE_TABLE],
  );
  if (!reader.getRowObjectsJS()[0].n) return [];
  const rows = (
    await db.conn.runAndReadAll(
      `SELECT stream, state::VARCHAR AS state, run_id,
         strftime(updated_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS saved_at
       FROM ${STATE_TABLE} ORDER BY stream`,
    )
  ).getRowObjectsJS();
  return rows.map((r) => ({
    stream: String(r.stream),
    state: JSON.parse(String(r.state)) as Record<string, unknown>,
    runId: r.run_id === null ? null : Number(r.run_id),
    savedAt: String(r.saved_at),
  }));
}

/** `launchDate 2024-05-01T12:00:00.000Z` for a cursor state, else the state's JSON. */
function describe(s: Saved): string {
  const cursor = STREAMS.find((d) => d.name === s.stream)?.cursorField?.[0];
  const what =
    cursor && typeof s.state[cursor] === 'string'
      ? `cursor ${cursor} ${String(s.state[cursor])}`
      : `state ${JSON.stringify(s.state)}`;
  return `${what}, saved ${s.savedAt}${s.runId === null ? '' : ` by run ${s.runId}`}`;
}

/** The streams named, and (with `others`) any other stream with a saved state. */
async function show(db: Database, names: string[], json = false, others = true): Promise<void> {
  // A full-refresh stream's state is empty: nothing to show.
  const saved = (await savedStates(db)).filter((s) => Object.keys(s.state).length > 0);
  const all = [...new Set([...names, ...(others ? saved.map((s) => s.stream) : [])])];
  if (json) {
    const streams = Object.fromEntries(
      all.map((name) => {
        const s = saved.find((x) => x.stream === name);
        return [name, s ? { state: s.state, saved_at: s.savedAt, run_id: s.runId } : null];
      }),
    );
    process.stdout.write(JSON.stringify({ db: db.file, streams }) + '\n');
    return;
  }
  const lines = all.map((name) => {
    const s = saved.find((x) => x.stream === name);
    return s
      ? `${name}: ${describe(s)}. The next incremental sync reads from that cursor minus lookback_days; ` +
          `\`bin/main state --reset\` makes it read everything again`
      : `${name}: no saved state. The next sync reads every ${singular(name)} (rows already in the table are kept)`;
  });
  process.stdout.write(`State in ${db.file}:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
}

/** Says what it clears, then clears it in one transaction; the rows stay. */
async function reset(db: Database, streams: string[]): Promise<void> {
  await db.conn.run('BEGIN TRANSACTION');
  try {
    const saved = (await savedStates(db)).filter((s) => streams.includes(s.stream));
    if (!saved.length) {
      await db.conn.run('ROLLBACK');
      process.stdout.write(
        `No saved state for ${streams.join(', ')} in ${db.file}: nothing to clear; the next sync reads everything already\n`,
      );
      return;
    }
    for (const s of saved) {
      process.stdout.write(
        `Clearing the saved state of ${s.stream} in ${db.file} (${describe(s)}). ` +
          `The next sync reads every ${singular(s.stream)} again; ` +
          `the rows in table ${s.stream} are kept\n`,
      );
    }
    await db.conn.run(
      `DELETE FROM ${STATE_TABLE} WHERE stream IN (${saved.map((_, i) => `$${i + 1}`).join(', ')})`,
      saved.map((s) => s.stream),
    );
    await db.conn.run('COMMIT');
  } catch (err) {
    await db.conn.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
  process.stdout.write('Done: state cleared.\n');
}
