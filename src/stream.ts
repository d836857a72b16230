import { AirbyteLogger, AirbyteStream, AirbyteStreamBase, SyncMode } from 'faros-airbyte-cdk';
import fs from 'fs';
import path from 'path';
import { GoKartConfig, RESOURCES_DIR } from './config';
import { GoKartClient, Offer } from './client';
import { ConfigError } from './errors';
import { FetchPage, launchTime, OfferScanner, ScanHooks } from './pager';

export const OFFERS_STREAM = 'offers';

/** The stream's saved state: the newest launch date emitted, as an ISO date-time. */
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
  if (typeof cursor !== 'string' || Number.isNaN(Date.parse(cursor))) {
    throw new ConfigError(
      `state: ${OFFERS_STREAM}.launchDate must be a date-time such as 2024-01-01T00:00:00Z (got ${JSON.stringify(cursor)})`,
    );
  }
  return { launchDate: cursor };
}

function findStreamState(input: unknown): unknown {
  if (input === null || input === undefined) return undefined;
  const messages = Array.isArray(input) ? input : [input];
  for (const msg of messages) {
    if (typeof msg !== 'object' || msg === null) continue;
    const m = msg as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    if (m.type === 'STREAM' && m.stream?.stream_descriptor?.name === OFFERS_STREAM) {
      return m.stream.stream_state;
    }
    if (m.type === 'LEGACY' && m.legacy) return m.legacy[OFFERS_STREAM];
    if (m.type === undefined && OFFERS_STREAM in m) return m[OFFERS_STREAM];
  }
  if (Array.isArray(input) || (input as Record<string, unknown>).type !== undefined)
    return undefined;
  // A legacy object without our stream: nothing saved for it yet.
  return undefined;
}

let schema: Record<string, unknown> | undefined;

/** One offers stream read: its scan plus the state it ends with. */
export interface OffersRead {
  batches: AsyncGenerator<Offer[]>;
  scanner: OfferScanner;
  /** The state to save once every batch was emitted. */
  finalState(): OffersState;
}

export class OffersStream extends AirbyteStreamBase {
  constructor(
    logger: AirbyteLogger,
    private readonly config: GoKartConfig,
  ) {
    super(logger);
  }

  override get name(): string {
    return OFFERS_STREAM;
  }

  get primaryKey(): string {
    return 'id';
  }

  override get cursorField(): string {
    return 'launchDate';
  }

  override get sourceDefinedCursor(): boolean {
    return true;
  }

  getJsonSchema(): Record<string, unknown> {
    schema ??= JSON.parse(
      fs.readFileSync(path.join(RESOURCES_DIR, 'schemas', 'offers.json'), 'utf8'),
    );
    return schema as Record<string, unknown>;
  }

  /** The CDK's version adds Faros-only columns (__faros_data, __faros_heartbeat) to the schema. */
  override asAirbyteStream(): AirbyteStream {
    return {
      name: this.name,
      json_schema: this.getJsonSchema(),
      supported_sync_modes: [SyncMode.FULL_REFRESH, SyncMode.INCREMENTAL],
      source_defined_cursor: true,
      default_cursor_field: [this.cursorField],
      source_defined_primary_key: [[this.primaryKey]],
    };
  }

  /**
   * Plans a read. Incremental reads want offers launched at or after the saved
   * cursor minus the lookback (and start_date); the new cursor is the newest
   * launch emitted, but never later than when this sync started, so offers
   * scheduled in the future cannot push it past offers created later.
   */
  openRead(
    syncMode: SyncMode,
    state: OffersState,
    fetchPage: FetchPage,
    hooks: ScanHooks,
  ): OffersRead {
    const syncStart = Date.now();
    const saved =
      syncMode === SyncMode.INCREMENTAL && state.launchDate
        ? Date.parse(state.launchDate)
        : undefined;
    if (saved !== undefined && saved > syncStart) {
      hooks.log?.(
        'warn',
        `The saved cursor ${state.launchDate} is in the future: only offers launching after it minus the lookback are read`,
      );
    }
    const floors = [
      this.config.startDate,
      saved !== undefined ? saved - this.config.lookbackMs : undefined,
    ].filter((t): t is number => t !== undefined);
    const threshold = floors.length ? Math.max(...floors) : undefined;
    const scanner = new OfferScanner(
      fetchPage,
      { threshold, concurrency: this.config.concurrency },
      hooks,
    );
    let newest = -Infinity;
    async function* batches(): AsyncGenerator<Offer[]> {
      for await (const batch of scanner.scan()) {
        for (const offer of batch) {
          const t = launchTime(offer);
          if (t > newest) newest = t;
        }
        yield batch;
      }
    }
    return {
      batches: batches(),
      scanner,
      finalState(): OffersState {
        const cursor = Math.min(Math.max(newest, saved ?? -Infinity), syncStart);
        return Number.isFinite(cursor) ? { launchDate: new Date(cursor).toISOString() } : {};
      },
    };
  }

  /** The CDK's record-at-a-time interface; GoKartSource reads batches through openRead instead. */
  async *readRecords(
    syncMode: SyncMode,
    _cursorField?: string[],
    _slice?: Record<string, unknown>,
    streamState?: Record<string, unknown>,
  ): AsyncGenerator<Offer> {
    const client = new GoKartClient(this.config);
    try {
      const state = parseInputState({ [OFFERS_STREAM]: streamState });
      const read = this.openRead(syncMode, state, (r, s) => client.fetchPage(r, s), {});
      for await (const batch of read.batches) yield* batch;
    } finally {
      client.close();
    }
  }
}
