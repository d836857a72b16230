import { summaryLine, SyncResult } from '../src/sync';

const base = { db: 'w.duckdb', runId: 3, ms: 2345, mode: 'incremental' as const };
const offers = {
  stream: 'offers',
  mode: 'incremental' as const,
  records: 1200,
  inserted: 10,
  updated: 2,
  deleted: 0,
  rowsAfter: 5010,
  cursor: '2026-01-02T00:00:00.000Z',
};

describe('summaryLine', () => {
  test('one stream: records, counts, rows and cursor', () => {
    const r: SyncResult = { ...base, streams: [offers] };
    expect(summaryLine(r)).toBe(
      'Synced 1,200 offers (incremental) into w.duckdb in 2.3 s: 10 new, 2 updated, 1,188 unchanged; ' +
        'table offers has 5,010 rows; cursor 2026-01-02T00:00:00.000Z',
    );
  });

  test('one clause per stream, each in its own mode', () => {
    const details = {
      stream: 'offer_details',
      mode: 'full_refresh' as const,
      records: 1,
      inserted: 0,
      updated: 0,
      deleted: 3,
      rowsAfter: 1,
    };
    expect(summaryLine({ ...base, streams: [offers, details] })).toMatch(
      /; and 1 offer_detail \(full refresh\): 0 new, 0 updated, 1 unchanged, 3 deleted; table offer_details has 1 row$/,
    );
  });
});
