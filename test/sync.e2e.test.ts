/**
 * `bin/main sync` end to end: the CLI as a child process, an in-process
 * simulator, and the DuckDB file read back after each run.
 */
import { queryDb } from './db-helpers';
import { ChildProcess, spawn } from 'child_process';
import fs from 'fs';
import path from 'path';
import {
  generateOffers,
  GoKartSimulator,
  mulberry32,
  Offer,
  offerDetail,
  SimulatorOptions,
} from '../tools/simulator';
import type { RunResult } from '../tools/run-cli';
import { ROOT, runMainForTest, TempDir } from './cli-helpers';

const DAY_MS = 86_400_000;
const tmp = new TempDir();
const sims: GoKartSimulator[] = [];
const children: ChildProcess[] = [];

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'lib', 'sync.js'))) {
    throw new Error('lib/sync.js is missing: run `npm run build` first (npm test does)');
  }
});

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

afterAll(() => tmp.remove());

async function startSim(options: SimulatorOptions): Promise<GoKartSimulator> {
  const sim = await GoKartSimulator.start(options);
  sims.push(sim);
  return sim;
}

let configs = 0;
function configFor(sim: GoKartSimulator, extra: Record<string, unknown> = {}): string {
  return tmp.write(`config-${++configs}.json`, {
    api_token: sim.options.token,
    api_url: sim.url,
    ...extra,
  });
}

let dbs = 0;
function newDb(): string {
  return path.join(tmp.dir, `db-${++dbs}.duckdb`);
}

/**
 * Every sync here stages its rows in chunks of 8 KiB (not 16 MiB), so that DuckDB loads
 * many chunks while the read goes on, as it does in a large sync.
 */
const SMALL_CHUNKS = { TEST_STAGE_CHUNK_BYTES: '8192' };

/** Starts `bin/main sync`; `onStart` sees the child before it can finish. */
function sync(
  args: string[],
  opts: { env?: Record<string, string>; onStart?: (child: ChildProcess) => void } = {},
): Promise<RunResult> {
  return runMainForTest(['sync', ...args], {
    env: { ...SMALL_CHUNKS, ...opts.env },
    onStart: (child) => {
      children.push(child);
      opts.onStart?.(child);
    },
  });
}

const OFFERS_ONLY = ['--streams', 'offers'];

/** Runs a sync and kills it (SIGKILL) once the simulator has served `served` requests. */
async function syncKilledAfter(
  sim: GoKartSimulator,
  served: number,
  args: string[],
): Promise<void> {
  let child: ChildProcess | undefined;
  sim.onRequest((_entry, count) => {
    if (count === served) child?.kill('SIGKILL');
  });
  const run = await sync(args, { onStart: (c) => (child = c) });
  sim.onRequest(undefined);
  expect(run.signal).toBe('SIGKILL');
}

async function syncOk(config: string, db: string, ...more: string[]): Promise<string> {
  const run = await sync(['--config', config, '--db', db, ...more]);
  if (run.code !== 0) throw new Error(`sync exited ${run.code}: ${run.stderr}`);
  // Not a terminal: no progress, just the summary line on stdout.
  expect(run.stderr).toBe('');
  expect(run.stdout).toMatch(/^Synced [\d,]+ offers \((incremental|full refresh)\) into .*\n$/);
  return run.stdout.trim();
}

interface Row {
  id: string;
  data: string;
  categories: string | null;
  name: string | null;
  budget: string | null;
  launch: number | null;
  end: number | null;
  offerType: string | null;
}

async function tableRows(db: string): Promise<Row[]> {
  return queryDb<Row>(
    db,
    `SELECT id, _airbyte_data::VARCHAR AS data, to_json(categories)::VARCHAR AS categories, name,
       budgetAmount::VARCHAR AS budget, epoch_ms(launchDate)::DOUBLE AS launch,
       epoch_ms(endDate)::DOUBLE AS "end", offerType
     FROM offers ORDER BY id`,
  );
}

/** An amount as DECIMAL(38, 9) prints it. */
function dec9(value: number | string): string {
  const [int, frac = ''] = String(value).split('.');
  return `${int}.${frac.padEnd(9, '0')}`;
}

/** The table holds exactly these offers, once each, typed columns agreeing with the JSON. */
async function expectTable(db: string, offers: Iterable<Offer>): Promise<void> {
  const want = [...offers].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const rows = await tableRows(db);
  expect(rows.map((r) => r.id)).toEqual(want.map((o) => o.id));
  rows.forEach((row, i) => {
    const offer = want[i];
    expect(JSON.parse(row.data)).toEqual(offer);
    expect({
      categories: row.categories === null ? null : JSON.parse(row.categories),
      name: row.name,
      budget: row.budget,
      launch: row.launch,
      end: row.end,
      offerType: row.offerType,
    }).toEqual({
      categories: offer.categories,
      name: offer.name,
      budget: dec9(offer.budgetAmount),
      launch: Date.parse(offer.launchDate),
      end: offer.endDate === null ? null : Date.parse(offer.endDate),
      offerType: offer.offerType,
    });
  });
}

async function savedState(db: string): Promise<unknown> {
  const rows = await queryDb<{ state: string }>(
    db,
    `SELECT state::VARCHAR AS state FROM _sync_state`,
  );
  return rows.map((r) => JSON.parse(r.state));
}

async function runsOf(db: string): Promise<Record<string, unknown>[]> {
  return queryDb(
    db,
    `SELECT run_id::INTEGER AS run_id, mode, outcome, records::INTEGER AS records,
       inserted::INTEGER AS inserted, updated::INTEGER AS updated, deleted::INTEGER AS deleted,
       ended_at IS NOT NULL AS ended, error
     FROM _sync_runs ORDER BY run_id`,
  );
}

/** What a scan compares: every column but the extraction time, plus the state and the user's column. */
async function snapshot(db: string): Promise<{ rows: Row[]; state: unknown; notes?: unknown[] }> {
  const rows = await tableRows(db);
  const state = await savedState(db);
  const [{ has }] = await queryDb<{ has: boolean }>(
    db,
    `SELECT count(*) > 0 AS has FROM duckdb_columns() WHERE table_name = 'offers' AND column_name = 'note'`,
  );
  if (!has) return { rows, state };
  return { rows, state, notes: await queryDb(db, `SELECT id, note FROM offers ORDER BY id`) };
}

/**
 * What a user does to the table: a column of their own, filled in on every row, and a view on it.
 * Later calls fill in the rows added since.
 */
async function annotate(db: string): Promise<void> {
  await queryDb(db, `ALTER TABLE offers ADD COLUMN IF NOT EXISTS note VARCHAR`);
  await queryDb(db, `UPDATE offers SET note = 'note ' || id WHERE note IS NULL`);
  await queryDb(db, `CREATE OR REPLACE VIEW noted AS SELECT id, note FROM offers`);
}

/** The user's column kept its values: every row has its note but the `added` rows of the last sync. */
async function expectNotes(db: string, added: number): Promise<void> {
  const [row] = await queryDb<{ missing: number; wrong: number; viewed: number; rows: number }>(
    db,
    `SELECT count(*) FILTER (WHERE note IS NULL)::INTEGER AS missing,
       count(*) FILTER (WHERE note <> 'note ' || id)::INTEGER AS wrong,
       (SELECT count(note)::INTEGER FROM noted) AS viewed, count(*)::INTEGER AS rows
     FROM offers`,
  );
  expect(row).toEqual({ missing: added, wrong: 0, viewed: row.rows - added, rows: row.rows });
}

/** The last run's new-row count, from _sync_runs. */
async function lastInserted(db: string): Promise<number> {
  const runs = await runsOf(db);
  return Number(runs[runs.length - 1].inserted);
}

describe('sync into DuckDB', () => {
  test('after any sequence of changes and syncs the table matches the inventory, user column and view kept', async () => {
    const now = Date.now();
    const sim = await startSim({ offers: 0 });
    sim.add(generateOffers(300, 7, { from: new Date(now - 400 * DAY_MS), to: new Date(now) }));
    // A lookback longer than the inventory's history: every incremental sync sees
    // every offer, so "every offer ever seen, latest values" is known exactly.
    const config = configFor(sim, { page_size: 25, lookback_days: 3650 });
    const db = newDb();
    const rnd = mulberry32(11);
    const pick = <T>(list: T[]): T => list[Math.floor(rnd() * list.length)];
    const model = new Map<string, Offer>();
    let nextIndex = 1000;
    const modes: string[] = [];
    for (let step = 0; step < 8; step++) {
      if (step > 0) {
        const fresh = generateOffers(Math.floor(rnd() * 20), 7, {
          from: new Date(now - 30 * DAY_MS),
          to: new Date(now - 3_600_000),
          firstIndex: nextIndex,
        });
        nextIndex += fresh.length;
        sim.add(fresh);
        const live = sim.offers();
        for (let n = Math.floor(rnd() * 8); n > 0; n--) {
          const o = pick(live);
          sim.update(o.id, {
            name: `${o.name} v${step}`,
            budgetAmount: Math.round(rnd() * 1e7) / 100,
            categories: rnd() < 0.5 ? [] : ['Travel', 'Gaming'],
            endDate: rnd() < 0.5 ? null : new Date(now + step * DAY_MS).toISOString(),
            ...(rnd() < 0.3 ? { payout: { amount: step, currency: 'EUR' } } : {}),
          });
        }
        sim.remove(Array.from({ length: Math.floor(rnd() * 8) }, () => pick(sim.offers()).id));
      }
      const full = step > 0 && rnd() < 0.35;
      modes.push(full ? 'full_refresh' : 'incremental');
      await syncOk(config, db, ...(full ? ['--full-refresh'] : []));
      // The user's column keeps its values on untouched and updated rows; new rows have none yet.
      if (step > 0) await expectNotes(db, await lastInserted(db));
      await annotate(db);
      const inventory = sim.offers();
      if (full) model.clear();
      for (const o of inventory) model.set(o.id, o);
      if (full) await expectTable(db, inventory);
      await expectTable(db, model.values());
    }
    expect(modes).toContain('full_refresh');
    const runs = await runsOf(db);
    expect(runs.map((r) => [r.mode, r.outcome])).toEqual(modes.map((m) => [m, 'succeeded']));
  });

  test('incremental keeps deleted offers and adds new ones; --full-refresh mirrors the API', async () => {
    const sim = await startSim({ offers: 2000 });
    const config = configFor(sim);
    const db = newDb();
    expect(await syncOk(config, db)).toMatch(/Synced 2,000 offers \(incremental\).*2,000 new/);
    const before = sim.offers();
    await expectTable(db, before);

    const now = Date.now();
    const fresh = generateOffers(10, 3, {
      from: new Date(now - 3_600_000),
      to: new Date(now - 60_000),
      idPrefix: 'new-',
    });
    sim.add(fresh);
    const byLaunch = [...before].sort(
      (a, b) => Date.parse(b.launchDate) - Date.parse(a.launchDate),
    );
    const recent = byLaunch[0]; // inside the 3-day lookback: re-read
    const old = byLaunch[byLaunch.length - 1]; // years before the cursor: not re-read
    const gone = byLaunch[byLaunch.length - 2];
    sim.update(recent.id, { budgetAmount: 1234.5, name: 'Recently changed' });
    sim.update(old.id, { name: 'Changed long ago' });
    sim.remove([gone.id]);

    const line = await syncOk(config, db);
    expect(line).toMatch(
      /\(incremental\).*: 10 new, 1 updated, \d+ unchanged; table offers has 2,010 rows/,
    );
    const seen = new Map(before.map((o) => [o.id, o]));
    for (const o of fresh) seen.set(o.id, o);
    seen.set(recent.id, { ...recent, budgetAmount: 1234.5, name: 'Recently changed' });
    await expectTable(db, seen.values());

    const full = await syncOk(config, db, '--full-refresh');
    expect(full).toMatch(/\(full refresh\).*, 1 deleted; table offers has 2,009 rows/);
    await expectTable(db, sim.offers());
    expect((await runsOf(db)).map((r) => [r.mode, r.inserted, r.updated, r.deleted])).toEqual([
      ['incremental', 2000, 0, 0],
      ['incremental', 10, 1, 0],
      ['full_refresh', 0, 1, 1],
    ]);
  });

  test('offer_details lands beside offers: typed documented columns, the whole record as JSON', async () => {
    const sim = await startSim({ offers: 30, seed: 4 });
    const db = newDb();
    const line = await syncOk(configFor(sim), db);
    expect(line).toMatch(
      /; and 30 offer_details \(full refresh\): 30 new, 0 updated, 0 unchanged, 0 deleted; table offer_details has 30 rows$/,
    );
    const columns = await queryDb<{ name: string; type: string }>(
      db,
      `SELECT column_name AS name, data_type AS type FROM information_schema.columns
       WHERE table_name = 'offer_details' ORDER BY ordinal_position`,
    );
    expect(columns).toEqual(
      expect.arrayContaining([
        { name: 'id', type: 'VARCHAR' },
        { name: 'payoutId', type: 'VARCHAR' },
        { name: 'headline', type: 'VARCHAR' },
        { name: 'categories', type: 'VARCHAR[]' },
        { name: '_airbyte_data', type: 'JSON' },
      ]),
    );
    // Undocumented nested parts have no column of their own: the JSON keeps them as sent.
    expect(columns.map((c) => c.name)).not.toContain('events');
    const rows = await queryDb<{ id: string; payoutId: string; data: string }>(
      db,
      `SELECT id, payoutId, _airbyte_data::VARCHAR AS data FROM offer_details`,
    );
    const expected = new Map(sim.offers().map((o) => [o.id, offerDetail(o, 4)]));
    expect(rows).toHaveLength(30);
    for (const row of rows) {
      const detail = expected.get(row.id);
      expect(JSON.parse(row.data)).toEqual(detail);
      expect(row.payoutId).toBe(detail?.payoutId);
    }
    // No state for a full-refresh stream: only offers keeps a cursor.
    expect(
      (await queryDb<{ stream: string }>(db, 'SELECT stream FROM _sync_state')).map(
        (r) => r.stream,
      ),
    ).toEqual(['offers']);
  });

  test('typed columns: exact decimals, time zones, lists, and new API fields kept', async () => {
    const sim = await startSim({ offers: 0 });
    const base = generateOffers(5, 9, { from: new Date('2025-01-01'), to: new Date('2025-06-01') });
    const odd: Offer[] = [
      { ...base[0], budgetAmount: 0.1, categories: [] },
      { ...base[1], budgetAmount: 123456789012.34, launchDate: '2025-03-01T10:00:00+05:30' },
      { ...base[2], budgetAmount: 1e21, endDate: null },
      { ...base[3], budgetAmount: 19.99, payout: { amount: 2.5 }, tags: ['x'] },
      { ...base[4], budgetAmount: 7 },
    ];
    sim.add(odd);
    const db = newDb();
    await syncOk(configFor(sim), db);
    const rows = new Map((await tableRows(db)).map((r) => [r.id, r]));
    expect(rows.get(odd[0].id)).toMatchObject({ budget: '0.100000000', categories: '[]' });
    expect(rows.get(odd[1].id)).toMatchObject({
      budget: '123456789012.340000000',
      launch: Date.parse('2025-03-01T04:30:00Z'),
    });
    expect(rows.get(odd[2].id)).toMatchObject({
      budget: '1000000000000000000000.000000000',
      end: null,
    });
    expect(JSON.parse(rows.get(odd[3].id)!.data)).toMatchObject({
      payout: { amount: 2.5 },
      tags: ['x'],
    });
    const [sum] = await queryDb<{ total: string }>(
      db,
      `SELECT sum(budgetAmount)::VARCHAR AS total FROM offers WHERE budgetAmount < 1000`,
    );
    expect(sum.total).toBe('27.090000000'); // 0.1 + 19.99 + 7, no floating-point drift

    // A user's own index and view on the table survive the next sync.
    await queryDb(db, `CREATE INDEX by_launch ON offers (launchDate)`);
    await queryDb(db, `CREATE VIEW pricey AS SELECT id FROM offers WHERE budgetAmount > 100`);
    await syncOk(configFor(sim), db, '--full-refresh');
    expect(await queryDb(db, `SELECT index_name FROM duckdb_indexes()`)).toEqual([
      { index_name: 'by_launch' },
    ]);
    expect(await queryDb(db, `SELECT count(*)::INTEGER AS n FROM pricey`)).toEqual([{ n: 2 }]);
  });

  test('a sync killed mid-way and run again gives the same table as an uninterrupted one', async () => {
    // The offers stream alone: 5,000 detail requests at 20 ms would make this test slow, not stronger.
    const sim = await startSim({ offers: 5000, latencyMs: 20 });
    const config = configFor(sim, { page_size: 50, lookback_days: 3650 });
    const reference = newDb();
    const killed = newDb();
    await syncOk(config, reference, ...OFFERS_ONLY);
    await syncOk(config, killed, ...OFFERS_ONLY);
    await annotate(reference);
    await annotate(killed);

    const now = Date.now();
    sim.add(generateOffers(120, 5, { from: new Date(now - DAY_MS), to: new Date(now - 60_000) }));
    const live = sim.offers();
    for (const o of live.slice(200, 230)) sim.update(o.id, { budgetAmount: 42.42 });
    sim.remove(live.slice(1000, 1020).map((o) => o.id));
    const before = await snapshot(killed);

    // Kill after 40 of the ~100 pages were served.
    sim.resetStats();
    await syncKilledAfter(sim, 40, ['--config', config, '--db', killed, ...OFFERS_ONLY]);
    expect(fs.readdirSync(`${killed}.stage`).length).toBeGreaterThan(5); // chunks were staged
    expect(await snapshot(killed)).toEqual(before); // nothing half-written, state unchanged

    await syncOk(config, killed, ...OFFERS_ONLY);
    expect(fs.existsSync(`${killed}.stage`)).toBe(false); // the killed sync's chunks are gone
    await syncOk(config, reference, ...OFFERS_ONLY);
    expect(await snapshot(killed)).toEqual(await snapshot(reference));
    await expectNotes(killed, 120);
    expect((await runsOf(killed)).map((r) => r.outcome)).toEqual([
      'succeeded',
      'interrupted',
      'succeeded',
    ]);
  });

  test('a first sync killed while its chunks load into the empty table saves nothing', async () => {
    const sim = await startSim({ offers: 3000, latencyMs: 10 });
    const config = configFor(sim, { page_size: 50 });
    const db = newDb();
    await syncKilledAfter(sim, 40, ['--config', config, '--db', db, ...OFFERS_ONLY]);
    // Pages of 50 offers fill an 8 KiB chunk each: dozens were staged, and loaded one after
    // the other into the open transaction.
    expect(fs.readdirSync(`${db}.stage`).length).toBeGreaterThan(20);
    expect(await snapshot(db)).toEqual({ rows: [], state: [] });

    await syncOk(config, db, ...OFFERS_ONLY);
    expect(fs.existsSync(`${db}.stage`)).toBe(false);
    await expectTable(db, sim.offers());
    expect((await runsOf(db)).map((r) => [r.outcome, r.inserted])).toEqual([
      ['interrupted', null],
      ['succeeded', 3000],
    ]);
  });

  test('a sync that runs DuckDB out of memory is rolled back and run again with more', async () => {
    const sim = await startSim({ offers: 1500 });
    const config = configFor(sim, { page_size: 50 });
    const db = newDb();
    // 24MB cannot hold the JSON reader's buffer: the first load fails, everything loaded is
    // rolled back, and the chunks are loaded again under the wide bound.
    const run = await sync(['--config', config, '--db', db, ...OFFERS_ONLY], {
      env: { TEST_DUCKDB_MEMORY_LIMIT: '24MB' },
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    await expectTable(db, sim.offers());
    expect((await runsOf(db)).map((r) => [r.outcome, r.inserted])).toEqual([['succeeded', 1500]]);
    expect(fs.existsSync(`${db}.stage`)).toBe(false);
  });

  test('a sync killed inside its commit leaves rows and state as they were', async () => {
    const sim = await startSim({ offers: 500 });
    const config = configFor(sim, { lookback_days: 3650 });
    const db = newDb();
    await syncOk(config, db);
    await annotate(db);
    const before = await snapshot(db);
    const live = sim.offers();
    sim.remove(live.slice(0, 50).map((o) => o.id));
    sim.update(live[100].id, { name: 'changed' });

    for (const mode of [[], ['--full-refresh']]) {
      const run = await sync(['--config', config, '--db', db, ...mode], {
        env: { TEST_KILL_BEFORE_COMMIT: '1' },
      });
      expect(run.signal).toBe('SIGKILL');
      expect(await snapshot(db)).toEqual(before);
      await expectNotes(db, 0);
    }
    await syncOk(config, db, '--full-refresh');
    await expectTable(db, sim.offers());
    await expectNotes(db, 0); // the changed offer kept its note too
  });

  test('an incremental sync touches only the rows that changed', async () => {
    const sim = await startSim({ offers: 1000 });
    const config = configFor(sim, { lookback_days: 3650 }); // every offer is read again
    const db = newDb();
    await syncOk(config, db);
    await annotate(db);
    const extracted = async () =>
      new Map(
        (
          await queryDb<{ id: string; at: string }>(
            db,
            `SELECT id, _airbyte_extracted_at::VARCHAR AS at FROM offers`,
          )
        ).map((r) => [r.id, r.at]),
      );
    const before = await extracted();
    const live = sim.offers();
    const changed = live.slice(10, 13).map((o) => o.id);
    for (const id of changed) sim.update(id, { budgetAmount: 77.7 });
    const fresh = generateOffers(4, 8, { idPrefix: 'fresh-' });
    sim.add(fresh);

    expect(await syncOk(config, db)).toMatch(
      /\(incremental\).*: 4 new, 3 updated, 99\d unchanged; table offers has 1,004 rows/,
    );
    const after = await extracted();
    const touched = [...after].filter(([id, at]) => before.get(id) !== at).map(([id]) => id);
    expect(touched.sort()).toEqual([...changed, ...fresh.map((o) => o.id)].sort());
    await expectNotes(db, 4); // the updated rows kept their notes
    const [run] = (
      await queryDb<{ streams: string }>(
        db,
        `SELECT streams::VARCHAR AS streams FROM _sync_runs ORDER BY run_id DESC LIMIT 1`,
      )
    ).map((r) => JSON.parse(r.streams));
    expect(run).toEqual([
      expect.objectContaining({
        stream: 'offers',
        mode: 'incremental',
        inserted: 4,
        updated: 3,
        deleted: 0,
        rowsAfter: 1004,
      }),
      // In the same run and transaction: the details (budgetAmount is not among them).
      expect.objectContaining({
        stream: 'offer_details',
        mode: 'full_refresh',
        inserted: 4,
        updated: 0,
        deleted: 0,
        rowsAfter: 1004,
      }),
    ]);
  });

  test.each([
    ['a new database', ''],
    [
      'a database made before (id PRIMARY KEY)',
      `CREATE TABLE offers (id VARCHAR PRIMARY KEY, categories VARCHAR[], name VARCHAR,
         budgetAmount DECIMAL(38,9), launchDate TIMESTAMPTZ, endDate TIMESTAMPTZ, offerType VARCHAR,
         _airbyte_data JSON NOT NULL, _airbyte_extracted_at TIMESTAMPTZ NOT NULL)`,
    ],
  ])('full refresh deletes only the unseen rows, in place: %s', async (_label, ddl) => {
    const sim = await startSim({ offers: 600 });
    const config = configFor(sim);
    const db = newDb();
    if (ddl) await queryDb(db, ddl);
    await syncOk(config, db);
    await annotate(db);
    await queryDb(db, `CREATE INDEX by_note ON offers (note)`);
    await queryDb(db, `CREATE INDEX by_launch ON offers (launchDate)`);
    const live = sim.offers();
    sim.remove(live.slice(0, 25).map((o) => o.id));
    sim.update(live[30].id, { name: 'Renamed', launchDate: new Date().toISOString() });

    expect(await syncOk(config, db, '--full-refresh')).toMatch(
      /\(full refresh\).*: 0 new, 1 updated, 574 unchanged, 25 deleted; table offers has 575 rows/,
    );
    await expectTable(db, sim.offers());
    await expectNotes(db, 0);
    expect(
      await queryDb(db, `SELECT index_name FROM duckdb_indexes() ORDER BY index_name`),
    ).toEqual([{ index_name: 'by_launch' }, { index_name: 'by_note' }]);
    // And an incremental sync on top of the user's indexes.
    sim.update(live[40].id, { name: 'Renamed too', launchDate: new Date().toISOString() });
    expect(await syncOk(config, db)).toMatch(
      /: 0 new, 1 updated, \d+ unchanged; table offers has 575 rows/,
    );
    await expectTable(db, sim.offers());
    await expectNotes(db, 0);
  });

  test('a failed full refresh keeps the previous contents and logs the error', async () => {
    const sim = await startSim({ offers: 400 });
    const db = newDb();
    await syncOk(configFor(sim, { page_size: 20 }), db);
    const before = await snapshot(db);
    sim.remove(
      sim
        .offers()
        .slice(0, 100)
        .map((o) => o.id),
    );
    sim.injectFault({ kind: 'status', status: 500, page: 5, times: 100 });
    const run = await sync([
      '--config',
      configFor(sim, { page_size: 20, max_retries: 0, concurrency: 1 }),
      '--db',
      db,
      '--full-refresh',
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      /^sync failed: Reading the offers stream failed after 100 records: .*HTTP 500.*the table keeps its previous contents; run 2 is logged in _sync_runs of .*\n$/,
    );
    expect(await snapshot(db)).toEqual(before);
    expect(fs.existsSync(`${db}.stage`)).toBe(false); // its staged rows are removed

    sim.clearFaults();
    const bad = await sync(['--config', configFor(sim, { api_token: 'wrong-token' }), '--db', db]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^sync failed: .*rejected the API token.*\n$/);
    expect(bad.stderr).not.toContain('wrong-token');
    const runs = await runsOf(db);
    expect(runs.slice(1)).toEqual([
      expect.objectContaining({
        mode: 'full_refresh',
        outcome: 'failed',
        records: 100,
        ended: true,
      }),
      expect.objectContaining({ mode: 'incremental', outcome: 'failed', records: 0, ended: true }),
    ]);
    expect(runs[1].error).toMatch(/HTTP 500/);
    expect(runs[2].error).toMatch(/HTTP 401/);
    expect(await snapshot(db)).toEqual(before);
  });

  describe('bad databases get one clear line and exit code 1', () => {
    let config: string;
    beforeEach(async () => {
      config = configFor(await startSim({ offers: 10 }));
    });

    async function fails(db: string, message: RegExp): Promise<void> {
      const run = await sync(['--config', config, '--db', db]);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^sync failed: [^\n]+\n$/); // one line, no stack trace
      expect(run.stderr).toContain(db);
      expect(run.stderr).toMatch(message);
    }

    test('an unwritable path', async () => {
      await fails('/proc/gokart-offers.duckdb', /choose a writable location with --db/);
      await fails(path.join(tmp.dir, 'no-such-dir', 'x.duckdb'), /does not exist/);
      const file = tmp.write('plain.txt', 'hello');
      await fails(path.join(file, 'x.duckdb'), /is a file, not a directory/);
      await fails(tmp.dir, /is a directory/);
    });

    test('a file that is not a DuckDB database is left untouched', async () => {
      const text = tmp.write('notes.duckdb', 'these are my notes\n');
      await fails(text, /is not a DuckDB database/);
      expect(fs.readFileSync(text, 'utf8')).toBe('these are my notes\n');
      const sqlite = tmp.write('offers.sqlite', 'SQLite format 3\0' + '\0'.repeat(100));
      await fails(sqlite, /is not a DuckDB database \(it is a SQLite database\)/);
      await fails(tmp.write('empty.duckdb', ''), /is not a DuckDB database \(it is empty\)/);
    });

    test('a database locked by another process', async () => {
      const db = newDb();
      const holder = spawn(
        process.execPath,
        [
          '-e',
          `require(${JSON.stringify(require.resolve('@duckdb/node-api'))}).DuckDBInstance.create(${JSON.stringify(db)})` +
            `.then(() => { console.log('ready'); setInterval(() => {}, 1000); })`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      children.push(holder);
      await new Promise<void>((resolve, reject) => {
        holder.stdout!.on('data', (d) => String(d).includes('ready') && resolve());
        holder.on('exit', () => reject(new Error('the lock holder exited')));
      });
      await fails(db, new RegExp(`in use by another process \\(PID ${holder.pid}\\)`));
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('close', resolve));
      await syncOk(config, db); // usable once the other process is gone
    });
  });
});
