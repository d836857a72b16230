/**
 * End to end with hostile data: dates without an offset, dates that do not exist,
 * lone UTF-16 surrogates (served by the simulator's 'rewrite' fault), and cursors
 * that are not date-times; `read` and `sync` run as child processes.
 */
import { queryDb } from './db-helpers';
import fs from 'fs';
import path from 'path';
import { generateOffers, GoKartSimulator, Offer, Rewrite } from '../tools/simulator';
import {
  CATALOG_FULL,
  CATALOG_INCREMENTAL,
  CliRun,
  errors,
  ROOT,
  runCli,
  runMainForTest,
  simulatorConfig,
  TempDir,
} from './cli-helpers';
import type { RunResult } from '../tools/run-cli';

const DAY_MS = 86_400_000;
const INVALID_DATE_WARNING = /which is not a valid RFC 3339 date-time: it is treated as undated/;
let sim: GoKartSimulator;
const tmp = new TempDir();

beforeAll(async () => {
  if (!fs.existsSync(path.join(ROOT, 'lib', 'dates.js'))) {
    throw new Error('lib/dates.js is missing: run `npm run build` first (npm test does)');
  }
  sim = await GoKartSimulator.start({ offers: 0 });
});
afterAll(async () => {
  await sim.close();
  tmp.remove();
});

function reset(offers: Offer[], rewrite?: { rewrite: Rewrite; page?: number }): void {
  sim.remove(sim.offers().map((o) => o.id));
  sim.add(offers);
  sim.clearFaults();
  if (rewrite) sim.injectFault({ kind: 'rewrite', times: Number.MAX_SAFE_INTEGER, ...rewrite });
  sim.resetStats();
}

let files = 0;
function config(extra: Record<string, unknown> = {}): string {
  return simulatorConfig(tmp, sim, extra);
}

function read(
  cfg: string,
  catalog: string,
  state?: unknown,
  env?: Record<string, string>,
): Promise<CliRun> {
  const args = ['read', '--config', cfg, '--catalog', catalog];
  if (state !== undefined) args.push('--state', tmp.write(`state-${++files}.json`, state));
  return runCli(args, env);
}

/** `bin/main sync`: exit code, stdout (the summary) and stderr (warnings, the error). */
function sync(cfg: string, db: string, ...more: string[]): Promise<RunResult> {
  return runMainForTest(['sync', '--config', cfg, '--db', db, ...more]);
}

const cursorOf = (run: CliRun): unknown => run.states.at(-1)?.state.stream.stream_state.launchDate;
const ids = (offers: { id: string }[]) => offers.map((o) => o.id).sort();
const recordIds = (run: CliRun) => ids(run.records.map((r) => r.record.data));
const warnings = (run: CliRun) =>
  run.messages.filter((m) => m.type === 'LOG' && m.log.level === 'WARN').map((m) => m.log.message);
const newest = (offers: Offer[]) =>
  new Date(Math.max(...offers.map((o) => Date.parse(o.launchDate)))).toISOString();

describe('the saved cursor', () => {
  it.each([['garbage 2020'], ['1'], ['2026-02-30T00:00:00Z']])(
    'refuses %j as a config_error before any request',
    async (cursor) => {
      reset(generateOffers(5, 3));
      const run = await read(config(), CATALOG_INCREMENTAL, { offers: { launchDate: cursor } });
      expect(run.code).not.toBe(0);
      expect(errors(run)).toEqual([
        expect.objectContaining({
          failure_type: 'config_error',
          message: expect.stringContaining(
            `state: offers.launchDate must be a date-time such as 2024-01-01T00:00:00Z (got ${JSON.stringify(cursor)})`,
          ),
        }),
      ]);
      expect(run.records).toHaveLength(0);
      expect(sim.requests).toHaveLength(0);
    },
  );
});

describe('launch dates without an offset', () => {
  it('are read as UTC: the same read emits the same offers under TZ=UTC and TZ=Pacific/Kiritimati', async () => {
    // Offers around start_date, so a 14-hour shift would move dozens across it.
    const start = Date.parse('2025-06-01T00:00:00Z');
    const offers = generateOffers(200, 5, {
      from: new Date(start - 2 * DAY_MS),
      to: new Date(start + 2 * DAY_MS),
    });
    reset(offers, { rewrite: 'offset-less-dates' });
    const cfg = config({ start_date: '2025-06-01T00:00:00Z', page_size: 20 });
    const wanted = offers.filter((o) => Date.parse(o.launchDate) >= start);
    expect(wanted.length).toBeGreaterThan(50);
    for (const TZ of ['UTC', 'Pacific/Kiritimati']) {
      const run = await read(cfg, CATALOG_FULL, undefined, { TZ });
      expect(run.code).toBe(0);
      expect(run.records[0].record.data.launchDate).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
      expect({ TZ, ids: recordIds(run) }).toEqual({ TZ, ids: ids(wanted) });
      expect({ TZ, cursor: cursorOf(run) }).toEqual({ TZ, cursor: newest(wanted) });
    }
  });
});

describe('launch dates that do not exist (30 February)', () => {
  // Launched in January and February, so 30 February read leniently (as 2 March) would be the newest.
  const offers = generateOffers(250, 9, {
    from: new Date('2025-01-01T00:00:00Z'),
    to: new Date('2025-02-28T00:00:00Z'),
  });
  /** The first page in the default order (newest created first) is served with 30 February. */
  const onFeb30 = () => sim.offers().slice(0, 100);
  const dated = () => {
    const bad = new Set(onFeb30().map((o) => o.id));
    return sim.offers().filter((o) => !bad.has(o.id));
  };

  it('are emitted as undated, never move the cursor, and warn once per read', async () => {
    reset(offers, { rewrite: 'impossible-dates', page: 0 });
    const run = await read(config(), CATALOG_FULL);
    expect(run.code).toBe(0);
    expect(recordIds(run)).toEqual(ids(offers));
    const served = run.records.find((r) => r.record.data.id === onFeb30()[0].id);
    expect(served?.record.data.launchDate).toMatch(/^\d{4}-02-30T/);
    expect(cursorOf(run)).toBe(newest(dated()));
    expect(warnings(run)).toEqual([expect.stringMatching(INVALID_DATE_WARNING)]);
  });

  it('are NULL in DuckDB and never the cursor, with exactly one warning per sync', async () => {
    reset(offers, { rewrite: 'impossible-dates', page: 0 });
    const db = path.join(tmp.dir, 'feb30.duckdb');
    for (const mode of [[], ['--full-refresh']]) {
      const run = await sync(config({ page_size: 100 }), db, ...mode);
      expect(run.code).toBe(0);
      const lines = run.stderr.split('\n').filter(Boolean);
      expect(lines).toEqual([expect.stringMatching(/^warn: Offer .*/)]);
      expect(lines[0]).toMatch(INVALID_DATE_WARNING);
      expect(run.stdout).toContain(`cursor ${newest(dated())}`);
    }
    const rows = await queryDb<{ id: string; launch: number | null; end: number | null }>(
      db,
      `SELECT id, epoch_ms(launchDate)::DOUBLE AS launch, epoch_ms(endDate)::DOUBLE AS "end" FROM offers`,
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.size).toBe(250);
    for (const o of onFeb30()) expect(byId.get(o.id)).toMatchObject({ launch: null, end: null });
    for (const o of dated()) {
      expect(byId.get(o.id)).toMatchObject({
        launch: Date.parse(o.launchDate),
        end: o.endDate === null ? null : Date.parse(o.endDate),
      });
    }
    const [{ state }] = await queryDb<{ state: string }>(
      db,
      `SELECT state::VARCHAR AS state FROM _sync_state`,
    );
    expect(JSON.parse(state)).toEqual({ launchDate: newest(dated()) });
  });
});

describe('a lone UTF-16 surrogate in a name', () => {
  it('is stored as U+FFFD, and the next sync works', async () => {
    const now = Date.now();
    const offers = generateOffers(30, 4, { from: new Date(now - 20 * DAY_MS), to: new Date(now) });
    reset(offers, { rewrite: 'lone-surrogate' });
    const db = path.join(tmp.dir, 'surrogate.duckdb');
    const cfg = config({ lookback_days: 365 });
    const first = await sync(cfg, db);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toMatch(/^Synced 30 offers \(incremental\) .*: 30 new, 0 updated/);
    const second = await sync(cfg, db);
    expect(second).toMatchObject({ code: 0, stderr: '' });
    expect(second.stdout).toMatch(
      /^Synced 30 offers \(incremental\) .*: 0 new, 0 updated, 30 unchanged/,
    );
    const rows = await queryDb<{ id: string; name: string; data: string }>(
      db,
      `SELECT id, name, _airbyte_data::VARCHAR AS data FROM offers ORDER BY id`,
    );
    const byId = new Map(offers.map((o) => [o.id, o]));
    expect(rows).toHaveLength(30);
    for (const row of rows) {
      const want = `\ufffd${byId.get(row.id)?.name}`;
      expect(row.name).toBe(want);
      expect(JSON.parse(row.data).name).toBe(want);
    }
  });
});

describe('a field of the wrong type', () => {
  it('is NULL in its typed column, kept in the JSON; null list items are kept', async () => {
    const [odd, listed] = generateOffers(2, 8);
    const wrong = { ...odd, name: 42, categories: ['Travel', 7], offerType: ['CPA'] };
    reset([wrong as unknown as Offer, { ...listed, categories: ['Travel', null] as string[] }]);
    const db = path.join(tmp.dir, 'wrong-type.duckdb');
    expect(await sync(config(), db, '--full-refresh')).toMatchObject({ code: 0, stderr: '' });
    const rows = await queryDb<{
      id: string;
      name: unknown;
      cats: unknown;
      type: unknown;
      data: string;
    }>(
      db,
      `SELECT id, name, to_json(categories)::VARCHAR AS cats, offerType AS type,
         _airbyte_data::VARCHAR AS data FROM offers`,
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(odd.id)).toMatchObject({ name: null, cats: null, type: null });
    expect(JSON.parse(byId.get(odd.id)?.data ?? '{}')).toEqual(wrong);
    expect(byId.get(listed.id)).toMatchObject({ name: listed.name, cats: '["Travel",null]' });
  });
});

describe('amounts', () => {
  it('are exact in DECIMAL(38,9) from a JSON number or a numeric string, else NULL', async () => {
    const amounts: unknown[] = [
      7659.68,
      ' 12.50 ',
      '-0.5',
      1e21,
      123.456789012345,
      '123456789012345678901234567890.123',
      '+5',
      'abc',
      true,
      [1],
      1e30,
      null,
    ];
    const offers = generateOffers(amounts.length, 9).map((o, i) => ({
      ...o,
      budgetAmount: amounts[i],
    }));
    reset(offers as unknown as Offer[]);
    const db = path.join(tmp.dir, 'amounts.duckdb');
    expect(await sync(config(), db, '--full-refresh')).toMatchObject({ code: 0, stderr: '' });
    const rows = await queryDb<{ id: string; amount: string | null }>(
      db,
      `SELECT id, budgetAmount::VARCHAR AS amount FROM offers`,
    );
    const byId = new Map(rows.map((r) => [r.id, r.amount]));
    expect(offers.map((o) => byId.get(o.id))).toEqual([
      '7659.680000000',
      '12.500000000',
      '-0.500000000',
      '1000000000000000000000.000000000',
      '123.456789012',
      null, // 30 digits before the point: more than DECIMAL(38,9) holds (the JSON keeps it)
      null, // '+5', 'abc', true and [1]: not an amount
      null,
      null,
      null,
      null, // 1e30: too large
      null,
    ]);
  });
});

describe('a failed write to DuckDB', () => {
  it('is reported as a warehouse failure, not a read failure', async () => {
    const offers = generateOffers(10, 6);
    reset(offers);
    const db = path.join(tmp.dir, 'index.duckdb');
    const cfg = config();
    expect((await sync(cfg, db, '--full-refresh')).code).toBe(0);
    // A unique index the user added, which the next commit's rows break.
    await queryDb(db, `CREATE UNIQUE INDEX offers_name ON offers(name)`);
    sim.add([{ ...generateOffers(1, 6, { idPrefix: 'twin-' })[0], name: offers[0].name }]);
    const run = await sync(cfg, db, '--full-refresh');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      new RegExp(
        `^sync failed: Writing to the DuckDB database ${db.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} failed: .*[Dd]uplicate key.*` +
          `\\(the table keeps its previous contents; run 2 is logged in _sync_runs of .*\\)\\n$`,
      ),
    );
    expect(run.stderr).not.toContain('Reading the offers stream');
    const runs = await queryDb<{ error: string | null }>(
      db,
      `SELECT error FROM _sync_runs ORDER BY run_id`,
    );
    expect(runs.map((r) => r.error)).toEqual([
      null,
      expect.stringMatching(/^Writing to the DuckDB database .* failed: .*[Dd]uplicate key/),
    ]);
  });
});
