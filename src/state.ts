import { SyncMode } from 'faros-airbyte-cdk/lib/protocol';
import { GoKartConfig } from './config';
import { Offer } from './client';
import { parseDateTime } from './dates';
import { ConfigError } from './errors';
import { FetchPage, OfferScanner, ScanHooks } from './pager';

export const OFFERS_STREAM = 'offers';

/**
 * The stream's catalog entry, less its JSON schema: used by discover (through the
 * CDK stream) and by `sync`, which builds its catalog without loading the CDK stream.
 */
export const OFFERS_STREAM_ENTRY = {
  name: OFFERS_STREAM,
  supported_sync_modes: [SyncMode.FULL_REFRESH, SyncMode.INCREMENTAL],
  source_defined_cursor: true,
  default_cursor_field: ['launchDate'],
  source_defined_primary_key: [['id']],
  is_resumable: true,
};

/** The stream's saved state: the newest launch date emitted, as an RFC 3339 date-time (UTC). */
export interface OffersState {
  launchDate?: string;
}

/**
 * Finds the offers stream's state in what Airbyte passes with --state: the
 * per-stream list, a single STREAM message, or a legacy `{"offers": {...}}` object.
 */
export function parseInputState(input: unknown): OffersState {
  const streamState = findStreamState(input);
  if (streamState === undefined || streamState === null) return {};
  if (typeof streamState !== 'object' || Array.isArray(streamState)) {
    throw new ConfigError(`state: the ${OFFERS_STREAM} stream's state must be an object`);
  }
  const cursor = (streamState as Record<string, unknown>).launchDate;
  if (cursor === undefined || cursor === null) return {};
  if (typeof cursor !== 'string' || parseDateTime(cursor) === undefined) {
    throw new ConfigError(
      `state: ${OFFERS_STREAM}.launchDate must be a date-time such as 2024-01-01T00:00:00Z (got ${JSON.stringify(cursor)})`,
    );
  }
  return { launchDate: cursor };
}

function findStreamState(input: unknown): unknown {
  if (input === null || input === undefined) return undefined;
  for (const msg of Array.isArray(input) ? input : [input]) {
    if (typeof msg !== 'object' || msg === null) continue;
    const m = msg as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    if (m.type === 'STREAM' && m.stream?.stream_descriptor?.name === OFFERS_STREAM) {
      return m.stream.stream_state;
    }
    if (m.type === 'LEGACY' && m.legacy) return m.legacy[OFFERS_STREAM];
    if (m.type === undefined && OFFERS_STREAM in m) return m[OFFERS_STREAM];
  }
  return undefined; // nothing saved for this stream yet
}

/** One read of the offers stream: its scan plus the state it ends with. */
export interface OffersRead {
  batches: AsyncGenerator<Offer[]>;
  scanner: OfferScanner;
  /** The state to save once every batch was emitted. */
  finalState(): OffersState;
}

/**
 * Plans a read. Incremental reads want offers launched at or after the saved
 * cursor minus the lookback (and start_date); the new cursor is the newest
 * launch emitted, but never later than when this sync started, so offers
 * scheduled in the future cannot push it past offers created later.
 */
export function openRead(
  config: GoKartConfig,
  syncMode: SyncMode,
  state: OffersState,
  fetchPage: FetchPage,
  hooks: ScanHooks,
): OffersRead {
  const syncStart = Date.now();
  const saved = syncMode === SyncMode.INCREMENTAL ? parseDateTime(state.launchDate) : undefined;
  if (saved !== undefined && saved > syncStart) {
    hooks.log?.(
      'warn',
      `The saved cursor ${state.launchDate} is in the future: only offers launching after it minus the lookback are read`,
    );
  }
  const floors = [config.startDate, saved !== undefined ? saved - config.lookbackMs : undefined];
  const wanted = floors.filter((t): t is number => t !== undefined);
  const threshold = wanted.length ? Math.max(...wanted) : undefined;
  const scanner = new OfferScanner(
    fetchPage,
    { threshold, concurrency: config.concurrency },
    hooks,
  );
  return {
    batches: scanner.scan(),
    scanner,
    finalState(): OffersState {
      const newest = Math.max(scanner.stats.newestLaunch, saved ?? -Infinity);
      const cursor = Math.min(newest, syncStart);
      return Number.isFinite(cursor) ? { launchDate: new Date(cursor).toISOString() } : {};
    },
  };
}
