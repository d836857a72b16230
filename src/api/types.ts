/**
 * GoKart's Partner API as plain types: what a list endpoint returns and how a
 * page of it is asked for. No HTTP here, so the scan, the streams and the outputs
 * use these without loading the client.
 */

/** A record as the API sends it: passed through unchanged. */
export interface ApiRecord {
  id: string;
  [field: string]: unknown;
}

/** An offer as the API sends it. */
export interface Offer extends ApiRecord {
  launchDate?: string | null;
}

/** One page of a PagedList endpoint. */
export interface OffersPage {
  pageIndex: number;
  /** The page size the server reports; the requested size when it reports none. */
  pageSize: number;
  totalCount: number;
  totalPages: number;
  hasNextPage: boolean;
  items: Offer[];
}

/** What the scan asks for. */
export interface PageRequest {
  page: number;
  /** Ask for newest launch (the stream's cursor) first; undefined = the server's default order. */
  newestLaunchFirst?: boolean;
}

/** A page request as HTTP: the stream decides path and parameters; the client adds page and page_size. */
export interface ListQuery {
  /** What the endpoint lists, for error messages ("offers"). */
  what: string;
  path: string;
  page: number;
  params: Record<string, string>;
}

/** A request for one object by id (an offer's details). */
export interface ObjectQuery {
  /** What the endpoint answers, for error messages ("offer details"). */
  what: string;
  path: string;
  id: string;
}

export type ApiQuery = ListQuery | ObjectQuery;

/** How messages name what a request asked for: `page 3`, `offer details of <id>`. */
export function describeQuery(query: ApiQuery): string {
  return 'page' in query ? `page ${query.page}` : `${query.what} of ${query.id}`;
}

/** Fetches one page; the scan's only way to reach the API (tests inject their own). */
export type FetchPage = (request: PageRequest, signal: AbortSignal) => Promise<OffersPage>;

/** Fetches one object (the record with the query's id); tests inject their own. */
export type FetchObject = (query: ObjectQuery, signal: AbortSignal) => Promise<ApiRecord>;

/** Told before each retry wait, so the read can log it and react to rate limits. */
export interface RetryNotice {
  /** The page retried; -1 for a request that is not for a page. */
  page: number;
  /** What is retried: `page 3`, `offer details of <id>`. */
  target: string;
  attempt: number;
  delayMs: number;
  reason: string;
  rateLimited: boolean;
  /** When the server said (Retry-After) that it will take requests again, epoch ms. */
  quotaReset?: number;
}
