import { IdSet } from './id-set';

/**
 * The ids a scan met, each held once off the JS heap (an IdSet for the whole sync),
 * with the two facts its policies need: the last pass that observed it (PassLedger
 * counts each pass's distinct ids) and whether it was emitted (Dedup). An entry's
 * tag is `pass << 1 | emitted`.
 */
export class SeenIds {
  private readonly ids = new IdSet();
  /**
   * The page observed last, and its entries: the scan emits that page's records next, in
   * its order, so `emit` finds them here without a second lookup (anything else is looked up).
   */
  private page: readonly { id: string }[] = [];
  private entries = new Int32Array(0);
  private next = 0;

  /** True when pass `pass` (1, 2, …) observes `id` for the first time. */
  observe(id: string, pass: number): boolean {
    return this.observeEntry(this.ids.entry(id), pass);
  }

  /** Observes every item of a page in pass `pass`; returns how many that pass had not seen. */
  observePage(items: readonly { id: string }[], pass: number): number {
    if (this.entries.length < items.length) this.entries = new Int32Array(items.length);
    let fresh = 0;
    for (let i = 0; i < items.length; i++) {
      this.entries[i] = this.ids.entry(items[i].id);
      if (this.observeEntry(this.entries[i], pass)) fresh++;
    }
    this.page = items;
    this.next = 0;
    return fresh;
  }

  /** True when `id` was not emitted before in this sync: from now on it is. */
  emit(id: string): boolean {
    const entry = this.pageEntry(id) ?? this.ids.entry(id);
    const tag = this.ids.tag(entry);
    if (tag & 1) return false;
    this.ids.setTag(entry, tag | 1);
    return true;
  }

  private observeEntry(entry: number, pass: number): boolean {
    const tag = this.ids.tag(entry);
    if (tag >>> 1 === pass) return false;
    this.ids.setTag(entry, (pass << 1) | (tag & 1));
    return true;
  }

  /** The entry of `id` if it comes next in the page observed last (ids skipped before it are passed over). */
  private pageEntry(id: string): number | undefined {
    while (this.next < this.page.length) {
      const i = this.next++;
      if (this.page[i].id === id) return this.entries[i];
    }
    return undefined;
  }
}
