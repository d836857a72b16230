import { setMaxListeners } from 'events';
import { FetchPage, OffersPage } from '../../api/types';

/**
 * Page requests in flight, keyed by page index. They share one AbortSignal:
 * the only cancellation is of everything still in flight when a pass ends.
 */
export class PageWindow {
  private readonly inFlight = new Map<number, Promise<OffersPage>>();
  private readonly abort = new AbortController();
  private next = 0;
  /** More than one page was in flight at some point of the pass. */
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
