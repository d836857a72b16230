import { ApiRecord } from '../../api/types';
import { SeenIds } from './seen-ids';

/**
 * Each record is emitted at most once per sync: ids are remembered across passes (in the scan's SeenIds).
 * Also keeps the newest cursor time among the records emitted, which the cursor
 * rules (read/cursor.ts) turn into the new state.
 */
export class Dedup {
  /** Newest cursor time (epoch ms) among the records emitted; -Infinity if none. */
  newest = -Infinity;

  constructor(private readonly seen: SeenIds) {}

  /** True when the record was not emitted before in this sync: then it is, and counts for the cursor. */
  admit(record: ApiRecord, time: number): boolean {
    if (!this.seen.emit(record.id)) return false;
    if (time > this.newest) this.newest = time;
    return true;
  }
}
