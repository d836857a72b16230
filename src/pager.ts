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
  unstable?: string;
  /** What did not add up: the pass did not prove that it read every offer. */
  incomplete?: string;
}

/** More requests for a page that came back short (or overfull) before the pass is declared incomplete. */
const SHORT_PAGE_RETRIES = 2;

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
 * - a pass ends only where totalCount says the list ends, and must prove that it
 *   read every offer (see PassLedger): a page that comes back short is asked for
 *   again, then the pass is read again, then the scan fails (no state is saved);
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
      const { unstable, incomplete } = result;
      if (!unstable && !incomplete) return;
      if (rescans++ >= maxRescans) {
        throw new ConnectorError(
          unstable
            ? `The offer inventory kept changing during ${rescans} full reads (${unstable}); stopped rather than risk missing offers. The next sync will try again.`
            : `GoKart's offers list did not add up in ${rescans} full reads (${incomplete}); stopped rather than risk missing offers. The next sync will try again.`,
          'transient_error',
        );
      }
      this.hooks.log?.(
        unstable ? 'info' : 'warn',
        unstable
          ? `The inventory changed during the scan (${unstable}): reading it again to catch offers that moved between pages`
          : `The offers list did not add up (${incomplete}): reading it again`,
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
    const ledger = new PassLedger();
    try {
      let previousLaunch = Infinity;
      let previousPage: OffersPage | undefined;
      // Sorted scans start with one page in flight and then request only as many
      // pages as the launch dates seen so far say are still wanted.
      let width = sorted ? 1 : this.limit;
      let firstLaunch = NaN;
      let lastPage = 0; // highest page index known to exist
      for (let index = 0; ; index++) {
        window.fill(index, Math.min(lastPage, index + width - 1));
        const page = await this.takePage(window, index, sorted);
        checkPaging(page, index, previousPage);
        previousPage = page;
        if (first && index === 0) this.hooks.estimate?.(page.totalCount);
        ledger.observe(page, index, window.concurrent);
        lastPage = Math.max(lastPage, PassLedger.pagesFor(page) - 1);

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

        // The end is where totalCount says, even if totalPages claims more.
        const end = !page.hasNextPage || index + 1 >= PassLedger.pagesFor(page);
        const result = { unstable: ledger.unstable, incomplete: ledger.verdict(end, index) };
        if (result.incomplete) return result;
        if (sorted && wanted < page.items.length) {
          // Sorted and this page reaches below the threshold: nothing older is wanted.
          this.stats.earlyStop = !end;
          return result;
        }
        if (end) return result;
        width = sorted
          ? this.pagesStillWanted(
              threshold!,
              firstLaunch,
              previousLaunch,
              ledger.itemsRead,
              page.items.length,
            )
          : this.limit;
      }
    } finally {
      window.cancelAll();
    }
  }

  /** Takes page `index`, asking again (bounded) while it holds other than its totals promise. */
  private async takePage(window: PageWindow, index: number, sorted: boolean): Promise<OffersPage> {
    for (let tries = 0; ; tries++) {
      let page: OffersPage;
      try {
        page = await window.take(index);
      } catch (err) {
        if (sorted && err instanceof ApiError && err.status === 400) throw new SortRejected();
        throw err;
      }
      const misfit = PassLedger.misfit(page, index);
      if (!misfit || tries >= SHORT_PAGE_RETRIES) return page;
      this.hooks.log?.('warn', `GoKart's ${misfit}: asking for page ${index} again`);
      window.request(index);
    }
  }
}

/**
 * The completeness accounting of one pass (one of the scan's policies). A pass
 * proves that it read every offer only if:
 * - every page holds what its own totalCount and pageSize say: all but the last one full;
 * - the list ends where totalCount says, and GoKart agrees (no next page);
 * - at the end of the list, the pages read cover totalCount;
 * - the distinct ids of the offers read (all of them, before any date filter)
 *   account for the offers read, less what totalCount grew by during the pass
 *   (growth shifts offers onto later pages: it may repeat offers, never skip them).
 * A sorted scan that stops early proves the first and the last for the pages it read.
 * The ledger also notes when totalCount changes may have shifted unread offers
 * onto pages already read (a drop, or any change while pages were read in
 * parallel): then the pass must be read again. It holds one pass's ids only.
 */
export class PassLedger {
  private readonly ids = new Set<string>();
  private baseline = -1;
  private highest = 0;
  private latest = 0;
  private misfitPage?: string;
  private last?: OffersPage;
  /** Offers read in this pass, repeats included. */
  itemsRead = 0;
  /** How totalCount changed if that may have hidden offers; undefined otherwise. */
  unstable?: string;

  /** The pages a page's totalCount and pageSize allow, never more than its totalPages. */
  static pagesFor(page: OffersPage): number {
    return Math.min(page.totalPages, Math.ceil(page.totalCount / page.pageSize));
  }

  /** How page `index` differs from what its own totalCount and pageSize say it holds, or undefined. */
  static misfit(page: OffersPage, index: number): string | undefined {
    const { pageSize, totalCount } = page;
    const expected = Math.max(0, Math.min(pageSize, totalCount - index * pageSize));
    if (page.items.length === expected) return undefined;
    return `page ${index} had ${page.items.length} of ${expected} offers (pageSize ${pageSize}, totalCount ${totalCount})`;
  }

  observe(page: OffersPage, index: number, concurrent: boolean): void {
    const total = page.totalCount;
    if (this.baseline < 0) {
      this.baseline = total;
    } else if (total !== this.baseline && !this.unstable && (total < this.baseline || concurrent)) {
      this.unstable = `totalCount ${this.baseline} → ${total} at page ${index}`;
    }
    this.highest = Math.max(this.highest, total);
    this.latest = total;
    this.itemsRead += page.items.length;
    for (const offer of page.items) this.ids.add(offer.id);
    this.last = page;
    this.misfitPage ??= PassLedger.misfit(page, index);
  }

  /** What does not add up after page `index`, or undefined; `atEnd`: it is the list's last page. */
  verdict(atEnd: boolean, index: number): string | undefined {
    if (this.misfitPage) return this.misfitPage;
    const needed = Math.min(this.baseline, this.itemsRead - (this.highest - this.baseline));
    if (this.ids.size < needed) {
      return `distinct ids ${this.ids.size} of ${needed} expected: pages 0–${index} repeat offers (${this.itemsRead} read, totalCount ${this.latest})`;
    }
    if (atEnd && this.itemsRead < this.latest) {
      return `pages 0–${index} cover ${this.itemsRead} of totalCount ${this.latest}`;
    }
    if (atEnd && this.last?.hasNextPage) {
      return `totalCount ${this.latest} ends at page ${index}, but GoKart says more pages follow (totalPages ${this.last.totalPages})`;
    }
    return undefined;
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
    while (this.next <= to) this.request(this.next++);
    if (this.inFlight.size > 1) this.concurrent = true;
  }

  /** Requests a page, or requests it again. */
  request(page: number): void {
    const promise = this.fetchPage({ page, newestLaunchFirst: this.sorted }, this.abort.signal);
    promise.catch(() => {}); // errors surface in take(); cancelled pages are never taken
    this.inFlight.set(page, promise);
    this.counted();
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
