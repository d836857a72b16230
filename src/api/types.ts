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

/** Fetches one page; the scan's only way to reach the API (tests inject their own). */
export type FetchPage = (request: PageRequest, signal: AbortSignal) => Promise<OffersPage>;

/** Told before each retry wait, so the read can log it and react to rate limits. */
export interface RetryNotice {
  page: number;
  attempt: number;
  delayMs: number;
  reason: string;
  rateLimited: boolean;
  /** When the server said (Retry-After) that it will take requests again, epoch ms. */
  quotaReset?: number;
}
