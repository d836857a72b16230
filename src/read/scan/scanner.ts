import { ApiRecord, FetchPage, OffersPage } from '../../api/types';
import { ApiError, ConnectorError } from '../../errors';
import { checkPaging, PassLedger } from './completeness';
import { Dedup } from './dedup';
import { Prefetch } from './prefetch';
import { SeenIds } from './seen-ids';
import { SortOrder } from './sort-order';
import { PageWindow } from './window';

export interface ScanPlan {
  /** Records whose cursor time is before this (epoch ms) are not wanted; undefined = all. */
  threshold?: number;
  /** Most page requests in flight. */
  concurrency: number;
  /** Re-reads allowed when the inventory changes under the scan. */
  maxRescans?: number;
  /** A record's cursor time in epoch ms; NaN when it has none (undated: emitted, never the cursor). */
  time(record: ApiRecord): number;
}

export interface ScanHooks {
  estimate?(totalCount: number): void;
  log?(level: 'info' | 'warn', message: string): void;
}

export interface ScanStats {
  requests: number;
  passes: number;
  /** A sorted scan stopped before the end of the list. */
  earlyStop: boolean;
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
 * Scans a paged list and yields, page by page and in page order, the records
 * that are wanted and not yet emitted in this sync. The loop asks named policies:
 * - Dedup: each id is yielded at most once per scan; it keeps the newest cursor time;
 * - PassLedger (completeness and inventory watch): a pass ends only where
 *   totalCount says the list ends and must prove that it read every record; if
 *   totalCount changed in a way that can shift unread records onto pages already
 *   read, the list is read again (only unseen records are yielded); a short page
 *   is asked for again, then the pass is read again, then the scan fails;
 * - SortOrder: with a threshold, pages are asked newest-first and the pass stops
 *   at the first page reaching below it, but only while every page proved that
 *   order; a server that ignores the sort gets a full scan, one that rejects it
 *   (400) a full scan in its default order;
 * - Prefetch: how many pages are in flight (PageWindow holds them).
 */
export class Scanner {
  /** Every id the scan met, held once for all passes and Dedup. */
  private readonly seen = new SeenIds();
  private readonly dedup = new Dedup(this.seen);
  private readonly prefetch: Prefetch;
  private sortSupported = true;
  readonly stats: ScanStats = { requests: 0, passes: 0, earlyStop: false };

  constructor(
    private readonly fetchPage: FetchPage,
    private readonly plan: ScanPlan,
    private readonly hooks: ScanHooks = {},
  ) {
    this.prefetch = new Prefetch(plan.concurrency, hooks);
  }

  /** Called on a rate limit: fewer requests in flight for the rest of the sync. */
  lowerConcurrency(): void {
    this.prefetch.lower();
  }

  get concurrency(): number {
    return this.prefetch.concurrency;
  }

  /** Newest cursor time (epoch ms) among the records yielded; -Infinity if none. */
  get newestTime(): number {
    return this.dedup.newest;
  }

  async *scan(): AsyncGenerator<ApiRecord[]> {
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

  private async *pass(first: boolean): AsyncGenerator<ApiRecord[], PassResult> {
    const { threshold, time } = this.plan;
    const order = new SortOrder(threshold !== undefined && this.sortSupported, this.hooks);
    const window = new PageWindow(this.fetchPage, order.sorted, () => this.stats.requests++);
    const ledger = new PassLedger(this.seen, this.stats.passes);
    try {
      let previousPage: OffersPage | undefined;
      let width = this.prefetch.initial(order.sorted);
      let lastPage = 0; // highest page index known to exist
      for (let index = 0; ; index++) {
        window.fill(index, Math.min(lastPage, index + width - 1));
        const page = await this.takePage(window, index, order.sorted);
        checkPaging(page, index, previousPage);
        previousPage = page;
        if (first && index === 0) this.hooks.estimate?.(page.totalCount);
        ledger.observe(page, index, window.concurrent);
        lastPage = Math.max(lastPage, PassLedger.pagesFor(page) - 1);

        if (index === 0 && page.items.length) order.first = time(page.items[0]);
        let wanted = 0;
        const batch: ApiRecord[] = [];
        for (const record of page.items) {
          const at = time(record); // one parse per record: order check, filter and cursor
          order.check(at, index, record.id);
          if (threshold !== undefined && at < threshold) continue;
          wanted++;
          if (this.dedup.admit(record, at)) batch.push(record);
        }
        if (batch.length) yield batch;

        // The end is where totalCount says, even if totalPages claims more.
        const end = !page.hasNextPage || index + 1 >= PassLedger.pagesFor(page);
        const result = { unstable: ledger.unstable, incomplete: ledger.verdict(end, index) };
        if (result.incomplete) return result;
        if (order.stopsAt(wanted, page.items.length)) {
          this.stats.earlyStop = !end;
          return result;
        }
        if (end) return result;
        width = this.prefetch.after(
          order.sorted
            ? {
                threshold: threshold!,
                first: order.first,
                last: order.previous,
                items: ledger.itemsRead,
                pageSize: page.items.length,
              }
            : undefined,
        );
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
