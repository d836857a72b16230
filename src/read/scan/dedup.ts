import { ApiRecord } from '../../api/types';

/**
 * Each record is emitted at most once per sync: ids are remembered across passes.
 * Also keeps the newest cursor time among the records emitted, which the cursor
 * rules (read/cursor.ts) turn into the new state.
 */
export class Dedup {
  private readonly seen = new Set<string>();
  /** Newest cursor time (epoch ms) among the records emitted; -Infinity if none. */
  newest = -Infinity;

  /** True when the record was not emitted before in this sync: then it is, and counts for the cursor. */
  admit(record: ApiRecord, time: number): boolean {
    const known = this.seen.size;
    this.seen.add(record.id);
    if (this.seen.size === known) return false;
    if (time > this.newest) this.newest = time;
    return true;
  }
}
