import { setMaxListeners } from 'events';
import { ApiError, ConnectorError } from './errors';
import { Offer, OffersPage, PageRequest } from './client';
import { parseDateTime } from './dates';

export type FetchPage = (request: PageRequest, signal: AbortSignal) => Promise<OffersPage>;

export interface ScanPlan {
  /** Offers launched before this (epoch ms) are not wanted; undefined = all offers. */
  threshold?: number;
  /** Most page requests in flight. */
  concurrency: number;
  /** Re-reads allowed when the inventory changes under the scan. */
  maxRescans?: number;
}

export interface ScanHooks {
  estimate?(totalCount: number): void;
  log?(level: 'info' | 'warn', message: string): void;
}

interface PassResult {
  /** totalCount changed during the pass in a way that may have hidden offers. */
  unstable: boolean;
  detail?: string;
}

/** The server answered 400 to the sort parameters: read in its default order instead. */
class SortRejected extends Error {}

/**
 * Scans the offers list and yields, page by page and in page order, the offers
 * that are wanted and not yet emitted in this sync.
 *
 * Correctness first:
 * - each offer id is yielded at most once per scan (ids are remembered);
 * - if totalCount changes during a pass in a way that can shift unread offers
 *   onto pages already read, the list is read again (only unseen offers are
 *   yielded), so every offer that existed throughout the sync is yielded;
 * - with a threshold, pages are requested newest-launch-first and the scan
 *   stops at the first page that reaches below the threshold, but only while
 *   every page so far proved to be in that order; a server that ignores the
 *   sort gets a full scan, one that rejects it (400) a full scan in its default order.
 */
export class OfferScanner {
  private readonly seen = new Set<string>();
  private limit: number;
  private sortSupported = true;
  private warnedUndated = false;
  readonly stats = {
    requests: 0,
    passes: 0,
    earlyStop: false,
    /** Newest launch time (epoch ms) among the offers yielded; -Infinity if none. */
    newestLaunch: -Infinity,
  };

  constructor(
    private readonly fetchPage: FetchPage,
    private readonly plan: ScanPlan,
    private readonly hooks: ScanHooks = {},
  ) {
    this.limit = Math.max(1, plan.concurrency);
  }

  /**
   * The launch time of an offer in epoch ms, or NaN when it has none or it is not
   * an RFC 3339 date-time (such as 30 February): then the offer is undated, and the
   * first one of the scan is logged as a warning.
   */
  private launchTime(offer: Offer): number {
    const launch = parseDateTime(offer.launchDate);
    if (launch === undefined && offer.launchDate != null && !this.warnedUndated) {
      this.warnedUndated = true;
      this.hooks.log?.(
        'warn',
        `Offer ${offer.id} has launchDate ${JSON.stringify(offer.launchDate).slice(0, 80)}, which is not a valid ` +
          'RFC 3339 date-time: it is treated as undated (emitted, never moves the cursor), and so is any other in this sync, without further warnings',
      );
    }
    return launch ?? NaN;
  }

  /** Called on a rate limit: fewer requests in flight for the rest of the sync. */
  lowerConcurrency(): void {
    if (this.limit <= 1) return;
    this.limit = Math.max(1, Math.floor(this.limit / 2));
    this.hooks.log?.(
      'warn',
      `GoKart is rate limiting: concurrency lowered to ${this.limit} for the rest of the sync`,
    );
  }

  get concurrency(): number {
    return this.limit;
  }

  async *scan(): AsyncGenerator<Offer[]> {
    const maxRescans = this.plan.maxRescans ?? 3;
    for (let rescans = 0; ;) {
      this.stats.passes++;
      let result: PassResult;
      try {
        result = yield* this.pass(this.stats.passes === 1);
      } catch (err) {
        if (!(err instanceof SortRejected)) throw err;
        this.sortSupported = false;
        this.hooks.log?.(
          'warn',
          'GoKart rejected orderby=LaunchDate (HTTP 400): reading every page in the default order instead',
        );
        continue;
      }
      if (!result.unstable) return;
      if (rescans++ >= maxRescans) {
        throw new ConnectorError(
          `The offer inventory kept changing during ${rescans} full reads (${result.detail}); stopped rather than risk missing offers. The next sync will try again.`,
          'transient_error',
        );
      }
      this.hooks.log?.(
        'info',
        `The inventory changed during the scan (${result.detail}): reading it again to catch offers that moved between pages`,
      );
    }
  }

  /**
   * How many more pages a sorted scan needs, judging by how fast launch dates
   * fell so far: pages still above the threshold plus the one that crosses it.
   */
  private pagesStillWanted(
    threshold: number,
    first: number,
    last: number,
    items: number,
    pageSize: number,
  ): number {
    const perItem = (first - last) / Math.max(1, items - 1);
    if (!(perItem > 0) || pageSize === 0) return this.limit;
    const pages = Math.floor((last - threshold) / perItem / pageSize) + 1;
    return Math.max(1, Math.min(this.limit, pages));
  }

  private async *pass(first: boolean): AsyncGenerator<Offer[], PassResult> {
    const { threshold } = this.plan;
    let sorted = threshold !== undefined && this.sortSupported;
    const window = new PageWindow(this.fetchPage, sorted, () => this.stats.requests++);
    try {
      let baseline: number | undefined;
      let unstable = false;
      let detail = '';
      let previousLaunch = Infinity;
      let previousPage: OffersPage | undefined;
      // Sorted scans start with one page in flight and then request only as many
      // pages as the launch dates seen so far say are still wanted.
      let width = sorted ? 1 : this.limit;
      let firstLaunch = NaN;
      let itemsRead = 0;
      let lastPage = 0; // highest page index known to exist
      for (let index = 0; ; index++) {
        window.fill(index, Math.min(lastPage, index + width - 1));
        let page: OffersPage;
        try {
          page = await window.take(index);
        } catch (err) {
          if (sorted && err instanceof ApiError && err.status === 400) throw new SortRejected();
          throw err;
        }
        checkPaging(page, index, previousPage);
        previousPage = page;
        if (baseline === undefined) {
          baseline = page.totalCount;
          if (first) this.hooks.estimate?.(page.totalCount);
        } else if (page.totalCount !== baseline && !unstable) {
          // A drop can move unread offers onto pages already read. With pages in
          // flight at once, growth can too (a later page may be read first).
          if (page.totalCount < baseline || window.concurrent) {
            unstable = true;
            detail = `totalCount ${baseline} → ${page.totalCount} at page ${index}`;
          }
        }
        lastPage = Math.max(lastPage, page.totalPages - 1);

        itemsRead += page.items.length;
        if (index === 0 && page.items.length) firstLaunch = this.launchTime(page.items[0]);
        let wanted = 0;
        const batch: Offer[] = [];
        for (const offer of page.items) {
          const launch = this.launchTime(offer); // one parse per offer: filter, order check and cursor
          // An offer without a launch date proves nothing about the order; it is
          // emitted when seen (never dropped), though a sorted scan may stop before it.
          if (sorted && launch > previousLaunch) {
            sorted = false;
            this.hooks.log?.(
              'warn',
              `Page ${index} is not in newest-launch-first order (offer ${offer.id}): GoKart ignored orderby=LaunchDate, so every page is read`,
            );
            width = this.limit;
          }
          if (sorted && !Number.isNaN(launch)) previousLaunch = launch;
          if (threshold !== undefined && launch < threshold) continue;
          wanted++;
          const known = this.seen.size;
          this.seen.add(offer.id);
          if (this.seen.size === known) continue; // emitted earlier in this sync
          if (launch > this.stats.newestLaunch) this.stats.newestLaunch = launch;
          batch.push(offer);
        }
        if (batch.length) yield batch;

        const end = page.items.length === 0 || !page.hasNextPage || index + 1 >= page.totalPages;
        if (sorted && wanted < page.items.length) {
          // Sorted and this page reaches below the threshold: nothing older is wanted.
          this.stats.earlyStop = !end;
          return { unstable, detail };
        }
        if (end) return { unstable, detail };
        width = sorted
          ? this.pagesStillWanted(
              threshold!,
              firstLaunch,
              previousLaunch,
              itemsRead,
              page.items.length,
            )
          : this.limit;
      }
    } finally {
      window.cancelAll();
    }
  }
}

/** Guards against a server that does not page: fail rather than loop or repeat offers. */
function checkPaging(page: OffersPage, index: number, previous: OffersPage | undefined): void {
  if (page.pageIndex !== index) {
    throw new ConnectorError(
      `GoKart returned page ${page.pageIndex} when asked for page ${index}; stopped instead of looping`,
      'system_error',
    );
  }
  const items = page.items;
  const before = previous?.items;
  if (
    items.length > 0 &&
    before?.length === items.length &&
    before[0].id === items[0].id &&
    before[before.length - 1].id === items[items.length - 1].id
  ) {
    throw new ConnectorError(
      `GoKart returned the same offers for pages ${index - 1} and ${index}: it seems to ignore the page parameter; stopped instead of looping`,
      'system_error',
    );
  }
}

/**
 * Page requests in flight, keyed by page index. They share one AbortSignal:
 * the only cancellation is of everything still in flight when a pass ends.
 */
class PageWindow {
  private readonly inFlight = new Map<number, Promise<OffersPage>>();
  private readonly abort = new AbortController();
  private next = 0;
  concurrent = false;

  constructor(
    private readonly fetchPage: FetchPage,
    private readonly sorted: boolean,
    private readonly counted: () => void,
  ) {
    // Each request in flight listens on the signal: up to 16 at once is expected.
    setMaxListeners(64, this.abort.signal);
  }

  /** Makes sure pages from..to are requested (never beyond `to`). */
  fill(from: number, to: number): void {
    this.next = Math.max(this.next, from);
    while (this.next <= to) {
      const page = this.next++;
      const promise = this.fetchPage({ page, newestLaunchFirst: this.sorted }, this.abort.signal);
      promise.catch(() => {}); // errors surface in take(); cancelled pages are never taken
      this.inFlight.set(page, promise);
      this.counted();
    }
    if (this.inFlight.size > 1) this.concurrent = true;
  }

  async take(page: number): Promise<OffersPage> {
    const promise = this.inFlight.get(page);
    if (!promise) throw new Error(`internal: page ${page} was not requested`);
    try {
      return await promise;
    } finally {
      this.inFlight.delete(page);
    }
  }

  cancelAll(): void {
    if (this.inFlight.size) this.abort.abort();
    this.inFlight.clear();
  }
}
