/**
 * The offers stream: everything specific to it (name, schema, primary key,
 * cursor, how a page is requested, the state shape) is in this module.
 */
import { SyncMode } from 'faros-airbyte-cdk/lib/protocol';
import { FetchPage, ListQuery, PageRequest } from '../api/types';
import { GoKartConfig } from '../config';
import { parseDateTime } from '../dates';
import { ConfigError } from '../errors';
import { CursorWindow, cursorTime } from '../read/cursor';
import { ScanHooks, ScanPlan, Scanner } from '../read/scan/scanner';
import { schemaFile, StreamDefinition } from './definition';

const NAME = 'offers';
const CURSOR = 'launchDate';

export const OFFERS_PATH = '/api/v1/sdk-offer-management/partner';

/** The stream's saved state: the newest launch date emitted, as an RFC 3339 date-time (UTC). */
export type OffersState = {
  launchDate?: string;
};

/** Checks the offers stream's saved state; throws ConfigError naming the field. */
export function parseOffersState(streamState: unknown): OffersState {
  if (streamState === undefined || streamState === null) return {};
  if (typeof streamState !== 'object' || Array.isArray(streamState)) {
    throw new ConfigError(`state: the ${NAME} stream's state must be an object`);
  }
  const cursor = (streamState as Record<string, unknown>)[CURSOR];
  if (cursor === undefined || cursor === null) return {};
  if (typeof cursor !== 'string' || parseDateTime(cursor) === undefined) {
    throw new ConfigError(
      `state: ${NAME}.${CURSOR} must be a date-time such as 2024-01-01T00:00:00Z (got ${JSON.stringify(cursor)})`,
    );
  }
  return { launchDate: cursor };
}

/** GoKart's offers list: newest launch first when asked, and the config's filters. */
export function offersQuery(config: GoKartConfig, request: PageRequest): ListQuery {
  const params: Record<string, string> = {};
  if (request.newestLaunchFirst) {
    params.orderby = 'LaunchDate';
    params.order_asc = 'false';
  }
  if (config.search) params['filter.search'] = config.search;
  if (config.offerType) params['filter.offer_type'] = config.offerType;
  return { what: NAME, path: OFFERS_PATH, page: request.page, params };
}

/**
 * The scan of the offers list, dated by launchDate. `dateHooks` hear about launch dates
 * that do not parse (by default `hooks`; a stream that only needs the ids passes `{}`,
 * so the offers stream alone warns about them).
 */
export function offersScanner(
  fetchPage: FetchPage,
  plan: Omit<ScanPlan, 'time'>,
  hooks: ScanHooks = {},
  dateHooks: ScanHooks = hooks,
): Scanner {
  return new Scanner(fetchPage, { ...plan, time: cursorTime(CURSOR, 'Offer', dateHooks) }, hooks);
}

export const offers: StreamDefinition = {
  name: NAME,
  jsonSchema: () => schemaFile(NAME),
  primaryKey: [['id']],
  cursorField: [CURSOR],
  syncModes: [SyncMode.FULL_REFRESH, SyncMode.INCREMENTAL],
  query: offersQuery,
  parseState: parseOffersState,

  open({ config, syncMode, state, fetchPage, hooks }) {
    const cursor = new CursorWindow(config, syncMode, parseOffersState(state)[CURSOR], hooks);
    const scanner = offersScanner(
      fetchPage,
      { threshold: cursor.threshold, concurrency: config.concurrency },
      hooks,
    );
    return {
      batches: scanner.scan(),
      lowerConcurrency: () => scanner.lowerConcurrency(),
      finalState() {
        const next = cursor.next(scanner.newestTime);
        return next ? { [CURSOR]: next } : {};
      },
      stats: scanner.stats,
    };
  },
};
