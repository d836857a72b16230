/**
 * The staging of `sync` (src/warehouse/staging.ts) through a fake DuckDB connection: which
 * statements run in which order when a load or the commit runs out of memory.
 */
import fs from 'fs';
import path from 'path';
import type { Warehouse } from '../src/warehouse/database';
import { TABLES } from '../src/warehouse/schema';
import { Staging } from '../src/warehouse/staging';
import { TempDir } from './cli-helpers';

const tmp = new TempDir();
afterAll(() => tmp.remove());

const OOM = 'Out of Memory Error: failed to allocate data of size 34.0 MiB (1.6 MiB/22.8 MiB used)';
const offers = TABLES.get('offers')!;

/**
 * A warehouse whose connection logs statements; `failAt(what, n)` makes the n-th statement of
 * that kind throw `error`, and `loseRowAt(n)` makes the n-th load write one row fewer than its
 * chunk has lines.
 */
function fakeWarehouse(name: string) {
  const log: string[] = [];
  let lossyLoad = 0;
  let widenings = 0;
  const faults: { what: RegExp; at: number; error: string }[] = [];
  const calls = new Map<string, number>(); // by kind: `load`, `work`, ...
  const wh = {
    file: path.join(tmp.dir, `${name}.duckdb`),
    conn: {
      run: async (sql: string, params?: string[]) => {
        const label = sql.startsWith('INSERT')
          ? `load ${path.basename(params![0])}`
          : sql.split(/\s/)[0];
        const kind = label.split(' ')[0];
        if (kind === 'SET') return { rowsChanged: 0 }; // threads: not what these tests are about
        const n = (calls.get(kind) ?? 0) + 1;
        calls.set(kind, n);
        for (const f of faults) {
          if (f.what.test(label) && n === f.at) {
            log.push(`${label} FAILS`);
            throw new Error(f.error);
          }
        }
        log.push(label);
        const rows = params ? fs.readFileSync(params[0], 'utf8').trim().split('\n').length : 0;
        return { rowsChanged: kind === 'load' && n === lossyLoad ? rows - 1 : rows };
      },
    },
    rows: async () => [{ n: 0 }],
    widenMemory: async () => widenings++ === 0,
  };
  return {
    wh: wh as unknown as Warehouse,
    log,
    failAt: (what: RegExp, at: number, error = OOM) => faults.push({ what, at, error }),
    loseRowAt: (at: number) => (lossyLoad = at),
  };
}

/** Pages of 10 offers, each page filling a 1 KiB chunk: one chunk a page. */
async function stagePages(staging: Staging, pages: number): Promise<void> {
  for (let p = 0; p < pages; p++) {
    const page = Array.from({ length: 10 }, (_, i) => ({
      id: `o-${p}-${i}`,
      name: `offer ${p}.${i}`,
    }));
    await staging.write(offers, page);
  }
}

const loads = (from: number, to: number) =>
  Array.from(
    { length: to - from },
    (_, i) => `load offers-${String(from + i).padStart(5, '0')}.ndjson`,
  );

describe('staging', () => {
  test('chunks load one at a time in one transaction while pages are staged; the commit loads the rest', async () => {
    const { wh, log } = fakeWarehouse('plain');
    const staging = new Staging(wh, 1024);
    await stagePages(staging, 4);
    const result = await staging.commit(async () => {
      log.push('work');
      return 'done';
    });
    expect(result).toBe('done');
    expect(log).toEqual(['BEGIN', ...loads(0, 4), 'work', 'COMMIT']);
    expect(staging.stage('offers')).toMatchObject({ direct: true, loaded: 4, rowsLoaded: 40 });
    staging.remove();
    expect(fs.existsSync(`${wh.file}.stage`)).toBe(false);
  });

  test('a load that runs out of memory rolls back what was loaded and loads it all again, wider', async () => {
    const { wh, log, failAt } = fakeWarehouse('load-oom');
    failAt(/^load/, 3);
    const staging = new Staging(wh, 1024);
    await stagePages(staging, 5);
    await staging.commit(async () => log.push('work'));
    expect(log).toEqual([
      'BEGIN',
      ...loads(0, 2),
      'load offers-00002.ndjson FAILS',
      'ROLLBACK',
      'BEGIN',
      ...loads(0, 5),
      'work',
      'COMMIT',
    ]);
    expect(staging.stage('offers')).toMatchObject({ loaded: 5, rowsLoaded: 50 });
  });

  test('a commit that runs out of memory is run again after every chunk is loaded again', async () => {
    const { wh, log, failAt } = fakeWarehouse('commit-oom');
    failAt(/^work$/, 1);
    const staging = new Staging(wh, 1024);
    await stagePages(staging, 2);
    await staging.commit(async () => {
      await wh.conn.run('work');
    });
    expect(log).toEqual([
      'BEGIN',
      ...loads(0, 2),
      'work FAILS',
      'ROLLBACK',
      'BEGIN',
      ...loads(0, 2),
      'work',
      'COMMIT',
    ]);
  });

  test('out of memory twice, or any other failure, is thrown with everything rolled back', async () => {
    const twice = fakeWarehouse('oom-twice');
    twice.failAt(/^work$/, 1);
    twice.failAt(/^work$/, 2);
    const a = new Staging(twice.wh, 1024);
    await stagePages(a, 1);
    await expect(a.commit(() => twice.wh.conn.run('work'))).rejects.toThrow(OOM);
    expect(twice.log.slice(-3)).toEqual([...loads(0, 1), 'work FAILS', 'ROLLBACK']);

    const other = fakeWarehouse('other');
    other.failAt(/^load/, 1, 'IO Error: disk full');
    const b = new Staging(other.wh, 1024);
    // The first chunk's load fails in the background; the next page staged says so.
    await expect(stagePages(b, 2)).rejects.toThrow('disk full');
    expect(other.log).toEqual(['BEGIN', 'load offers-00000.ndjson FAILS', 'ROLLBACK']);
    await b.abandon();
    expect(fs.existsSync(`${other.wh.file}.stage`)).toBe(false);
  });

  test('loads that wrote fewer rows than were staged fail the commit, rolled back', async () => {
    const { wh, log, loseRowAt } = fakeWarehouse('lossy');
    loseRowAt(2);
    const staging = new Staging(wh, 1024);
    await stagePages(staging, 3);
    const work = jest.fn();
    await expect(staging.commit(work)).rejects.toThrow(
      'internal: 30 offers records were staged but 29 loaded',
    );
    expect(work).not.toHaveBeenCalled();
    expect(log).toEqual(['BEGIN', ...loads(0, 3), 'ROLLBACK']);
  });
});
