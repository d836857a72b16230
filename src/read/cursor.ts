import { SyncMode } from 'faros-airbyte-cdk/lib/protocol';
import { ApiRecord } from '../api/types';
import { GoKartConfig } from '../config';
import { parseDateTime } from '../dates';
import type { ScanHooks } from './scan/scanner';

/**
 * The incremental rules, all of them. An incremental read wants records whose
 * cursor is at or after the saved cursor minus the lookback (and start_date);
 * the new cursor is the newest cursor emitted, never earlier than the saved one
 * and never later than when this sync started, so records scheduled in the
 * future cannot push it past records created later.
 */
export class CursorWindow {
  private readonly syncStart = Date.now();
  private readonly saved?: number;
  /** Records before this (epoch ms) are not wanted; undefined = all records. */
  readonly threshold?: number;

  constructor(
    config: GoKartConfig,
    syncMode: SyncMode,
    savedCursor: string | undefined,
    hooks: ScanHooks,
  ) {
    const saved = syncMode === SyncMode.INCREMENTAL ? parseDateTime(savedCursor) : undefined;
    if (saved !== undefined && saved > this.syncStart) {
      hooks.log?.(
        'warn',
        `The saved cursor ${savedCursor} is in the future: only offers launching after it minus the lookback are read`,
      );
    }
    const floors = [config.startDate, saved !== undefined ? saved - config.lookbackMs : undefined];
    const wanted = floors.filter((t): t is number => t !== undefined);
    this.saved = saved;
    this.threshold = wanted.length ? Math.max(...wanted) : undefined;
  }

  /** The cursor to save once a complete scan emitted records up to `newest` (epoch ms); undefined if none. */
  next(newest: number): string | undefined {
    const cursor = Math.min(Math.max(newest, this.saved ?? -Infinity), this.syncStart);
    return Number.isFinite(cursor) ? new Date(cursor).toISOString() : undefined;
  }
}

/**
 * A record's cursor time in epoch ms, or NaN when it has none or it is not an
 * RFC 3339 date-time (such as 30 February): then the record is undated (emitted,
 * never the cursor), and the first one of the read is logged as a warning.
 * `noun` names a record in that warning ("Offer").
 */
export function cursorTime(
  field: string,
  noun: string,
  hooks: ScanHooks,
): (record: ApiRecord) => number {
  let warned = false;
  return (record) => {
    const value = record[field];
    const time = parseDateTime(value);
    if (time === undefined && value != null && !warned) {
      warned = true;
      hooks.log?.(
        'warn',
        `${noun} ${record.id} has ${field} ${JSON.stringify(value).slice(0, 80)}, which is not a valid ` +
          'RFC 3339 date-time: it is treated as undated (emitted, never moves the cursor), and so is any other in this sync, without further warnings',
      );
    }
    return time ?? NaN;
  };
}
