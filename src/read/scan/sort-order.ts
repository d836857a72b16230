import type { ScanHooks } from './scanner';

/**
 * The order check of one pass that asked for newest-launch-first pages. Every
 * dated record must be no newer than the one before it; the first that is means
 * GoKart ignored the sort, and the pass reads every page from then on. While the
 * order holds, the first page that reaches below the threshold ends the pass.
 * An undated record (NaN) proves nothing about the order.
 */
export class SortOrder {
  /** Time of page 0's first record: where the launch-date extrapolation starts. */
  first = NaN;
  /** Time of the last dated record so far. */
  previous = Infinity;

  constructor(
    public sorted: boolean,
    private readonly hooks: ScanHooks,
  ) {}

  /** Checks the next record of page `index`; false when it broke the order (then the pass is unsorted). */
  check(time: number, index: number, id: string): boolean {
    if (!this.sorted) return true;
    if (time > this.previous) {
      this.sorted = false;
      this.hooks.log?.(
        'warn',
        `Page ${index} is not in newest-launch-first order (offer ${id}): GoKart ignored orderby=LaunchDate, so every page is read`,
      );
      return false;
    }
    if (!Number.isNaN(time)) this.previous = time;
    return true;
  }

  /** A sorted pass stops at a page where some records were below the threshold: nothing older is wanted. */
  stopsAt(wanted: number, records: number): boolean {
    return this.sorted && wanted < records;
  }
}
