/**
 * `bin/main sync`: the connector's own read, run in-process into an embedded
 * DuckDB database, with the stream state kept in that database. For partners
 * who want the offers in a table without running Airbyte.
 */
import { SyncMode } from 'faros-airbyte-cdk/lib/protocol';
import { readConfigInput, resolveConfig, Tuning, validateConfig } from './config';
import { errorText } from './errors';
import { ConfiguredStream } from './read/events';
import { readStreams } from './read/read';
import { StreamDefinition } from './streams/definition';
import { STREAMS } from './streams';
import { didYouMean } from './suggest';
import { plural, Scrubber, singular, stripControl } from './text';
import {
  DEFAULT_DB,
  SinkStream,
  StreamCommit,
  SyncModeName,
  Warehouse,
  WarehouseSink,
} from './warehouse';
import { Progress } from './warehouse/progress';

export interface SyncOptions {
  /** Optional when GOKART_* variables set the options. */
  config?: string;
  db?: string;
  fullRefresh?: boolean;
  /** The summary (or the error) as one JSON object on stdout. */
  json?: boolean;
  /** The streams to sync, by name; default every stream in STREAMS. */
  streams?: readonly string[];
  tuning?: Tuning;
}

export interface SyncResult {
  db: string;
  /** The run's mode: full_refresh with --full-refresh; each stream says its own. */
  mode: SyncModeName;
  runId: number;
  ms: number;
  /** Every stream's commit, in the order read. */
  streams: StreamCommit[];
}

/** The sync failed; the message is one line for the user. */
export class SyncError extends Error {
  override name = 'SyncError';
  constructor(
    message: string,
    /** The run logged in _sync_runs, once there is one. */
    readonly runId?: number,
  ) {
    super(message);
  }
}

/**
 * The CLI command: returns the exit code; never prints a stack trace. `stop`
 * (SIGINT/SIGTERM) ends the read early: nothing is saved, the run is logged as
 * interrupted.
 */
export async function syncCommand(opts: SyncOptions, stop?: AbortSignal): Promise<number> {
  const progress = new Progress(process.stderr);
  try {
    const result = await runSync(opts, progress, stop);
    progress.clear();
    process.stdout.write(
      (opts.json ? JSON.stringify(syncJson(result)) : summaryLine(result)) + '\n',
    );
    return 0;
  } catch (err) {
    progress.clear();
    const what = stop?.aborted ? 'sync interrupted' : 'sync failed';
    const message = stripControl(errorText(err));
    process.stderr.write(`${what}: ${message}\n`);
    if (opts.json) {
      const runId = err instanceof SyncError ? (err.runId ?? null) : null;
      process.stdout.write(JSON.stringify({ error: message, run_id: runId }) + '\n');
    }
    return 1;
  }
}

/** `sync --json`: the run as one object, per stream (the shape scripts and jq read). */
export function syncJson(r: SyncResult): Record<string, unknown> {
  return {
    db: r.db,
    run_id: r.runId,
    seconds: Math.round(r.ms) / 1000,
    streams: Object.fromEntries(
      r.streams.map((s) => [
        s.stream,
        {
          mode: s.mode,
          records: s.records,
          new: s.inserted,
          updated: s.updated,
          unchanged: s.records - s.inserted - s.updated,
          deleted: s.deleted,
          rows: s.rowsAfter,
          cursor: s.cursor ?? null,
        },
      ]),
    ),
  };
}

/** One clause per stream: "Synced 2,000 offers (incremental) into db in 1.2 s: …; and 300 offer_details (full refresh): …". */
export function summaryLine(r: SyncResult): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const clauses = r.streams.map((s, i) => {
    const unchanged = s.records - s.inserted - s.updated;
    const what = `${plural(s.records, singular(s.stream), n(s.records))} (${s.mode.replace('_', ' ')})`;
    return (
      (i === 0 ? `Synced ${what} into ${r.db} in ${(r.ms / 1000).toFixed(1)} s` : `and ${what}`) +
      `: ${n(s.inserted)} new, ${n(s.updated)} updated, ${n(unchanged)} unchanged` +
      (s.mode === 'full_refresh' ? `, ${n(s.deleted)} deleted` : '') +
      `; table ${s.stream} has ${plural(s.rowsAfter, 'row', n(s.rowsAfter))}` +
      (s.cursor ? `; cursor ${s.cursor}` : '')
    );
  });
  return clauses.join('; ');
}

/**
 * Runs readStreams in-process into the warehouse: the same read as the `read`
 * command, with the offers stream in the chosen mode and the state saved beside
 * the rows as input; the sink consumes the read's events directly. Every run is logged in _sync_runs,
 * failures included. Whatever it throws is a SyncError scrubbed of the token.
 */
export async function runSync(
  opts: SyncOptions,
  progress?: Progress,
  stop?: AbortSignal,
): Promise<SyncResult> {
  // Read once (it may be a pipe); its errors never quote the file's text.
  const { raw, warnings, secrets } = readConfigInput(opts.config);
  const scrub = new Scrubber(secrets);
  for (const warning of warnings) progress?.log('WARN', warning);
  try {
    return await syncWith(raw, opts, scrub, progress, stop);
  } catch (err) {
    throw new SyncError(
      scrub.text(errorText(err)),
      err instanceof SyncError ? err.runId : undefined,
    );
  }
}

async function syncWith(
  rawConfig: unknown,
  opts: SyncOptions,
  scrub: Scrubber,
  progress?: Progress,
  stop?: AbortSignal,
): Promise<SyncResult> {
  const started = Date.now();
  const db = opts.db ?? DEFAULT_DB;
  const mode: SyncModeName = opts.fullRefresh ? 'full_refresh' : 'incremental';
  const definitions = selectStreams(opts.streams);
  // The config is checked before the database is touched, so a typo creates no file.
  const config = resolveConfig(validateConfig(rawConfig), opts.tuning);
  // Each stream in the run's mode if it supports it (a full-refresh-only stream is read whole).
  const configured: ConfiguredStream[] = definitions.map((stream) => ({
    stream,
    syncMode:
      mode === 'incremental' && stream.syncModes.includes(SyncMode.INCREMENTAL)
        ? SyncMode.INCREMENTAL
        : SyncMode.FULL_REFRESH,
  }));
  const sinkStreams: SinkStream[] = configured.map(({ stream, syncMode }) => ({
    name: stream.name,
    mode: syncMode === SyncMode.INCREMENTAL ? 'incremental' : 'full_refresh',
    cursorField: stream.cursorField?.[0],
  }));
  const incremental = sinkStreams.filter((s) => s.mode === 'incremental').map((s) => s.name);

  const wh = await Warehouse.open(db, opts.tuning);
  try {
    const state = incremental.length ? await wh.loadStates(incremental) : [];
    const runId = await wh.startRun(mode);
    // The estimate is the whole inventory: a fair total only when everything is read.
    progress?.start(incremental.length === 0 || state.length === 0);
    const sink = new WarehouseSink(
      wh,
      sinkStreams,
      runId,
      {
        records: (n) => progress?.update(n),
        estimate: (rows) => progress?.setTotal(rows),
        committing: () => progress?.phase(`writing to ${db}`),
        log: (level, message) => progress?.log(level, scrub.text(message)),
      },
      opts.tuning?.stageChunkBytes,
    );
    let thrown: unknown;
    try {
      // A sink that throws ends the read: its requests are cancelled, its client closed.
      for await (const event of readStreams(config, configured, state, { signal: stop })) {
        await sink.consume(event);
      }
    } catch (err) {
      thrown = err;
    }
    if (sink.result) {
      return { db, mode, runId, ms: Date.now() - started, streams: sink.result };
    }
    await sink.abandon().catch(() => undefined);
    if (stop?.aborted) {
      const error = `stopped by ${String(stop.reason)} after ${sink.recordCount} offers were read; nothing was saved`;
      await wh.failRun(runId, sink.recordCount, error, 'interrupted').catch(() => undefined);
      throw new SyncError(
        `${error} (run ${runId} is logged as interrupted in _sync_runs of ${db})`,
        runId,
      );
    }
    const error = scrub.text(
      thrown !== undefined
        ? errorText(thrown)
        : (sink.error ?? 'the read ended without saving a state'),
    );
    await wh.failRun(runId, sink.recordCount, error).catch(() => undefined);
    const kept =
      mode === 'full_refresh' ? 'the table keeps its previous contents' : 'nothing was saved';
    throw new SyncError(`${error} (${kept}; run ${runId} is logged in _sync_runs of ${db})`, runId);
  } finally {
    wh.close();
  }
}

/** The streams named (every stream in STREAMS by default); an unknown name is a SyncError. */
function selectStreams(names?: readonly string[]): StreamDefinition[] {
  if (!names) return [...STREAMS];
  const all = STREAMS.map((s) => s.name);
  for (const name of names) {
    if (!all.includes(name)) {
      const hint = didYouMean(name, all);
      throw new SyncError(
        `--streams: unknown stream ${JSON.stringify(name)}${hint ? ` (did you mean ${hint}?)` : ''}; ` +
          `this source has ${all.join(', ')}`,
      );
    }
  }
  // In the source's order, each once: offers first, then what depends on it.
  return STREAMS.filter((s) => names.includes(s.name));
}
