import type { ScanHooks } from './scanner';

/** Where a sorted pass stands: launch times in epoch ms. */
export interface SortedProgress {
  threshold: number;
  first: number;
  last: number;
  items: number;
  pageSize: number;
}

/**
 * How many pages to keep in flight: `concurrency` (halved for the rest of the
 * sync on each rate limit); a sorted pass starts with one page and then asks for
 * as many as the launch dates seen so far say are still wanted.
 */
export class Prefetch {
  private limit: number;

  constructor(
    concurrency: number,
    private readonly hooks: ScanHooks,
  ) {
    this.limit = Math.max(1, concurrency);
  }

  get concurrency(): number {
    return this.limit;
  }

  /** Called on a rate limit: fewer requests in flight for the rest of the sync. */
  lower(): void {
    if (this.limit <= 1) return;
    this.limit = Math.max(1, Math.floor(this.limit / 2));
    this.hooks.log?.(
      'warn',
      `GoKart is rate limiting: concurrency lowered to ${this.limit} for the rest of the sync`,
    );
  }

  /** Pages in flight at the start of a pass. */
  initial(sorted: boolean): number {
    return sorted ? 1 : this.limit;
  }

  /**
   * Pages in flight after a page. For a sorted pass, judging by how fast launch
   * dates fell from `first` to `last` over `items` records: the pages still above
   * the threshold plus the one that crosses it.
   */
  after(sorted?: SortedProgress): number {
    if (!sorted) return this.limit;
    const { threshold, first, last, items, pageSize } = sorted;
    const perItem = (first - last) / Math.max(1, items - 1);
    if (!(perItem > 0) || pageSize === 0) return this.limit;
    const pages = Math.floor((last - threshold) / perItem / pageSize) + 1;
    return Math.max(1, Math.min(this.limit, pages));
  }
}
