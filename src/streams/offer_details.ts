/**
 * The offer_details stream: for each offer the list yields, GoKart's offer-details
 * endpoint (`GET …/partner/{id}`), the offer's full configuration (payout, events,
 * creatives, targeting). Full refresh only: a detail has no modification date, so
 * no cursor could tell which ones changed.
 */
import { SyncMode } from 'faros-airbyte-cdk/lib/protocol';
import { ApiRecord, ObjectQuery } from '../api/types';
import { ApiError, ConfigError, ConnectorError } from '../errors';
import { detailsInOrder } from '../read/scan/details';
import { schemaFile, StreamDefinition } from './definition';
import { OFFERS_PATH, offersQuery, offersScanner } from './offers';

const NAME = 'offer_details';

/** 404s from the start of a read, with no detail found, after which the endpoint itself is taken to be missing. */
export const MISSING_ENDPOINT_AFTER = 10;

/** One offer's details; the id is the list's, so it is encoded (never a path of its own). */
export function offerDetailsQuery(id: string): ObjectQuery {
  return { what: 'offer details', path: `${OFFERS_PATH}/${encodeURIComponent(id)}`, id };
}

/** Nothing is saved for a full-refresh stream: any object is accepted and ignored. */
function parseState(state: unknown): Record<string, never> {
  if (state === undefined || state === null) return {};
  if (typeof state !== 'object' || Array.isArray(state)) {
    throw new ConfigError(`state: the ${NAME} stream's state must be an object`);
  }
  return {};
}

export const offerDetails: StreamDefinition = {
  name: NAME,
  jsonSchema: () => schemaFile(NAME),
  primaryKey: [['id']],
  syncModes: [SyncMode.FULL_REFRESH],
  // The ids come from the offers list, filtered like the offers stream.
  query: offersQuery,
  parseState,

  open({ config, fetchPage, fetchObject, hooks }) {
    // The offers a full refresh of the offers stream reads (all, or from start_date on),
    // by the same scan, which must prove it read every one.
    const scanner = offersScanner(
      fetchPage,
      { threshold: config.startDate, concurrency: config.concurrency },
      hooks,
      {}, // a launch date that does not parse is the offers stream's warning, not this one's
    );
    let requests = 0;
    let found = 0;
    let withdrawn = 0;
    const details = async (offer: ApiRecord, signal: AbortSignal) => {
      requests++;
      try {
        const detail = await fetchObject(offerDetailsQuery(offer.id), signal);
        found++;
        return detail;
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) throw err;
        if (++withdrawn >= MISSING_ENDPOINT_AFTER && found === 0) {
          throw new ConnectorError(
            `GoKart answered HTTP 404 to the details of each of the first ${withdrawn} offers ` +
              `(the last: ${err.message}): its offer-details endpoint seems missing at ` +
              `${config.baseUrl}${OFFERS_PATH}/{id}; check api_url, or deselect the ${NAME} stream`,
            'config_error',
          );
        }
        hooks.log?.(
          'warn',
          `offer ${offer.id} was withdrawn between the list and its details (404); skipped`,
        );
        return undefined;
      }
    };
    return {
      // As many details in flight as the list may have pages; a 429 lowers both.
      batches: detailsInOrder(scanner.scan(), details, () => scanner.concurrency),
      lowerConcurrency: () => scanner.lowerConcurrency(),
      finalState: () => ({}),
      get stats() {
        return { ...scanner.stats, requests: scanner.stats.requests + requests };
      },
    };
  },
};
