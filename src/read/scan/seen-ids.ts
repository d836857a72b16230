import { IdSet } from './id-set';

/**
 * The ids a scan met, each held once off the JS heap (an IdSet for the whole sync),
 * with the two facts its policies need: the last pass that observed it (PassLedger
 * counts each pass's distinct ids) and whether it was emitted (Dedup). An entry's
 * tag is `pass << 1 | emitted`.
 */
export class SeenIds {
  private readonly ids = new IdSet();

  /** True when pass `pass` (1, 2, …) observes `id` for the first time. */
  observe(id: string, pass: number): boolean {
    const entry = this.ids.entry(id);
    const tag = this.ids.tag(entry);
    if (tag >>> 1 === pass) return false;
    this.ids.setTag(entry, (pass << 1) | (tag & 1));
    return true;
  }

  /** True when `id` was not emitted before in this sync: from now on it is. */
  emit(id: string): boolean {
    const entry = this.ids.entry(id);
    const tag = this.ids.tag(entry);
    if (tag & 1) return false;
    this.ids.setTag(entry, tag | 1);
    return true;
  }
}
