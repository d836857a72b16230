/**
 * `bin/main sync`: the connector's own read, run in-process into an embedded
 * DuckDB database, with the stream state kept in that database. For partners
 * who want the offers in a table without running Airbyte.
 */
import {
  AirbyteConfiguredCatalog,
  AirbyteStream,
  DestinationSyncMode,
  SyncMode,
} from 'faros-airbyte-cdk/lib/protocol';
import { readJsonFile, secretsOf, validateConfig } from './config';
import { errorText } from './errors';
import { Scrubber } from './output';
import { GoKartSource } from './source';
import { OFFERS_STREAM_ENTRY } from './state';
import { stripControl } from './text';
import { CommitResult, DEFAULT_DB, SyncModeName, Warehouse, WarehouseSink } from './warehouse';
import { Progress } from './warehouse/progress';

export interface SyncOptions {
  config: string;
  db?: string;
  fullRefresh?: boolean;
}

export interface SyncResult extends CommitResult {
  db: string;
  mode: SyncModeName;
  runId: number;
  ms: number;
}

/** The sync failed; the message is one line for the user. */
export class SyncError extends Error {
  override name = 'SyncError';
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
    process.stdout.write(summaryLine(result) + '\n');
    return 0;
  } catch (err) {
    progress.clear();
    const what = stop?.aborted ? 'sync interrupted' : 'sync failed';
    process.stderr.write(`${what}: ${stripControl(errorText(err))}\n`);
    return 1;
  }
}

export function summaryLine(r: SyncResult): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const unchanged = r.records - r.inserted - r.updated;
  return (
    `Synced ${n(r.records)} offers (${r.mode.replace('_', ' ')}) into ${r.db} in ` +
    `${(r.ms / 1000).toFixed(1)} s: ${n(r.inserted)} new, ${n(r.updated)} updated, ${n(unchanged)} unchanged` +
    (r.mode === 'full_refresh' ? `, ${n(r.deleted)} deleted` : '') +
    `; table offers has ${n(r.rowsAfter)} rows` +
    (r.cursor ? `; cursor ${r.cursor}` : '')
  );
}

/**
 * Runs GoKartSource.read in-process into the warehouse: the same read as the
 * `read` command, with the offers stream configured in the chosen mode and the
 * state saved beside the rows as input. Every run is logged in _sync_runs,
 * failures included. Whatever it throws is a SyncError scrubbed of the token.
 */
export async function runSync(
  opts: SyncOptions,
  progress?: Progress,
  stop?: AbortSignal,
): Promise<SyncResult> {
  // Read once (it may be a pipe); its errors never quote the file's text.
  const rawConfig = readJsonFile(opts.config, 'config');
  const scrub = new Scrubber(secretsOf(rawConfig));
  try {
    return await syncWith(rawConfig, opts, scrub, progress, stop);
  } catch (err) {
    throw new SyncError(scrub.text(errorText(err)));
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
  // The config is checked before the database is touched, so a typo creates no file.
  validateConfig(rawConfig);

  const source = new GoKartSource();
  const catalog = configuredCatalog(mode);
  const wh = await Warehouse.open(db);
  try {
    const state = mode === 'incremental' ? await wh.loadState(STREAM.name) : undefined;
    const runId = await wh.startRun(mode);
    // The estimate is the whole inventory: a fair total only when everything is read.
    progress?.start(mode === 'full_refresh' || state === undefined);
    const sink = new WarehouseSink(wh, STREAM.name, runId, mode, {
      records: (n) => progress?.update(n),
      estimate: (rows) => progress?.setTotal(rows),
      committing: () => progress?.phase(`writing to ${db}`),
      log: (level, message) => progress?.log(level, scrub.text(message)),
    });
    let ok = false;
    let thrown: unknown;
    try {
      ok = await source.read(rawConfig, catalog, state, sink, stop);
    } catch (err) {
      thrown = err;
    }
    if (ok && sink.result) {
      return { ...sink.result, db, mode, runId, ms: Date.now() - started };
    }
    if (stop?.aborted) {
      const error = `stopped by ${String(stop.reason)} after ${sink.recordCount} offers were read; nothing was saved`;
      await wh.failRun(runId, sink.recordCount, error, 'interrupted').catch(() => undefined);
      throw new SyncError(
        `${error} (run ${runId} is logged as interrupted in _sync_runs of ${db})`,
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
    throw new SyncError(`${error} (${kept}; run ${runId} is logged in _sync_runs of ${db})`);
  } finally {
    wh.close();
  }
}

const STREAM: AirbyteStream = { ...OFFERS_STREAM_ENTRY, json_schema: {} };

/** Incremental + append_dedup, or full refresh + overwrite. */
function configuredCatalog(mode: SyncModeName): AirbyteConfiguredCatalog {
  const incremental = mode === 'incremental';
  return {
    streams: [
      {
        stream: STREAM,
        sync_mode: incremental ? SyncMode.INCREMENTAL : SyncMode.FULL_REFRESH,
        cursor_field: STREAM.default_cursor_field,
        destination_sync_mode: incremental
          ? DestinationSyncMode.APPEND_DEDUP
          : DestinationSyncMode.OVERWRITE,
        primary_key: STREAM.source_defined_primary_key,
      },
    ],
  };
}
