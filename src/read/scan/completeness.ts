import { OffersPage } from '../../api/types';
import { ConnectorError } from '../../errors';
import { SeenIds } from './seen-ids';

/**
 * The completeness accounting of one pass, and its inventory watch. A pass
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
 * parallel): then the pass must be read again. Distinct ids are counted in the
 * scan's SeenIds, which notes the last pass that observed each id.
 */
export class PassLedger {
  /** Distinct ids observed in this pass. */
  private distinct = 0;
  private baseline = -1;
  private highest = 0;
  private latest = 0;
  private misfitPage?: string;
  private last?: OffersPage;
  /** Offers read in this pass, repeats included. */
  itemsRead = 0;
  /** How totalCount changed if that may have hidden offers; undefined otherwise. */
  unstable?: string;

  /** `pass`: this pass's number in the scan (1, 2, …), unique per `seen`. */
  constructor(
    private readonly seen: SeenIds,
    private readonly pass: number,
  ) {}

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
    this.distinct += this.seen.observePage(page.items, this.pass);
    this.last = page;
    this.misfitPage ??= PassLedger.misfit(page, index);
  }

  /** What does not add up after page `index`, or undefined; `atEnd`: it is the list's last page. */
  verdict(atEnd: boolean, index: number): string | undefined {
    if (this.misfitPage) return this.misfitPage;
    const needed = Math.min(this.baseline, this.itemsRead - (this.highest - this.baseline));
    if (this.distinct < needed) {
      return `distinct ids ${this.distinct} of ${needed} expected: pages 0–${index} repeat offers (${this.itemsRead} read, totalCount ${this.latest})`;
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
export function checkPaging(page: OffersPage, index: number, previous?: OffersPage): void {
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
