/**
 * The operators' commands end to end: `bin/main query` (read-only SQL as a table, JSON or CSV,
 * and the summary), `bin/main sync --json`, and `bin/main state [--reset]`, each as a child
 * process against a database that a real sync from the simulator wrote.
 */
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import { generateOffers, GoKartSimulator, Offer } from '../tools/simulator';
import { ROOT, runMainForTest, TempDir } from './cli-helpers';
import { queryDb } from './db-helpers';

const tmp = new TempDir();
const sims: GoKartSimulator[] = [];

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'lib', 'warehouse', 'query.js'))) {
    throw new Error('lib/warehouse/query.js is missing: run `npm run build` first (npm test does)');
  }
});
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});
afterAll(() => tmp.remove());

/** A name no table should mangle: a comma, quotes, a newline, a long tail. */
const TRICKY =
  'Spin, win "big"\nsecond line — and a long tail to be cut in the table ' + 'x'.repeat(40);

let n = 0;
/** A simulator with `offers` offers (one with a TRICKY name) and a config for it. */
async function setup(offers = 40): Promise<{ sim: GoKartSimulator; config: string; db: string }> {
  const sim = await GoKartSimulator.start({ offers });
  sims.push(sim);
  sim.update(sim.offers()[0].id, { name: TRICKY });
  const config = tmp.write(`config-${++n}.json`, {
    api_token: sim.options.token,
    api_url: sim.url,
  });
  return { sim, config, db: path.join(tmp.dir, `db-${n}.duckdb`) };
}

function main(...args: string[]) {
  return runMainForTest(args);
}

async function syncJson(config: string, db: string, ...more: string[]) {
  const run = await main('sync', '--config', config, '--db', db, '--json', ...more);
  expect(run.code).toBe(0);
  expect(run.stdout.trim().split('\n')).toHaveLength(1);
  return JSON.parse(run.stdout);
}

/** RFC 4180: fields split on commas outside quotes, "" inside quotes is one quote. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') field += text[i++];
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',' || c === '\n') {
      row.push(field);
      field = '';
      if (c === '\n') {
        rows.push(row);
        row = [];
      }
    } else {
      field += c;
    }
  }
  expect(field).toBe(''); // the last line ends with a newline
  return rows;
}

function sha(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

const COLUMNS = `id, name, budgetAmount, launchDate, endDate, categories, _airbyte_data`;

describe('bin/main query', () => {
  test('prints an aligned table: NULL spelt out, numbers right-aligned, long cells cut with …', async () => {
    const { sim, config, db } = await setup();
    await syncJson(config, db);
    const tricky = sim.offers()[0];
    const run = await main(
      'query',
      '--db',
      db,
      `SELECT id, name, budgetAmount, NULL AS nothing, launchDate FROM offers
       ORDER BY id = '${tricky.id}' DESC, id LIMIT 3`,
    );
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines.pop()).toBe('(3 rows)');
    // A box: every line as wide as the others, the column borders in the same places.
    const borders = (l: string) => [...l].flatMap((c, i) => ('│┌┬┐└┴┘'.includes(c) ? [i] : []));
    expect(new Set(lines.map((l) => [...l].length)).size).toBe(1);
    expect(new Set(lines.map((l) => borders(l).join())).size).toBe(1);
    expect(lines).toHaveLength(6); // top, head, 3 rows, bottom
    const cells = (l: string) => l.split('│').slice(1, -1);
    expect(cells(lines[1]).map((c) => c.trim())).toEqual([
      'id',
      'name',
      'budgetAmount',
      'nothing',
      'launchDate',
    ]);
    const first = cells(lines[2]);
    // The tricky name: newline shown as \n, cut at 40 characters with an ellipsis.
    expect(first[1].trim()).toBe('Spin, win "big"\\nsecond line — and a lo…');
    expect(first[3].trim()).toBe('NULL');
    expect(first[2]).toMatch(/^ +\d+\.\d{9} $/); // right-aligned
    const [{ budget }] = await queryDb(
      db,
      `SELECT budgetAmount::VARCHAR AS budget FROM offers WHERE id = '${tricky.id}'`,
    );
    expect(first[2].trim()).toBe(budget);
    expect(first[4].trim()).toBe(new Date(tricky.launchDate).toISOString());
  });

  test('--json and --csv carry every row and value exactly: text, decimals, times, lists, JSON', async () => {
    const { sim, config, db } = await setup();
    await syncJson(config, db);
    const byId = new Map<string, Offer>(sim.offers().map((o) => [o.id, o]));
    const sql = `SELECT ${COLUMNS} FROM offers ORDER BY id`;

    const json = await main('query', '--db', db, '--json', sql);
    expect(json.code).toBe(0);
    const rows = JSON.parse(json.stdout) as Record<string, unknown>[];
    expect(rows).toHaveLength(byId.size);
    // --json is one array, one row per line.
    expect(json.stdout.split('\n')).toHaveLength(rows.length + 3);
    for (const row of rows) {
      const offer = byId.get(String(row.id))!;
      expect(row).toEqual({
        id: offer.id,
        name: offer.name,
        budgetAmount: offer.budgetAmount,
        launchDate: new Date(offer.launchDate).toISOString(),
        endDate: offer.endDate === null ? null : new Date(offer.endDate).toISOString(),
        categories: offer.categories,
        _airbyte_data: offer,
      });
    }
    expect(rows.some((r) => r.name === TRICKY)).toBe(true);
    // Decimals are their exact digits, never a float's.
    expect(json.stdout).toMatch(/"budgetAmount":\d+\.\d{9},/);

    const csv = await main('query', '--db', db, '--csv', sql);
    expect(csv.code).toBe(0);
    const [head, ...lines] = parseCsv(csv.stdout);
    expect(head).toEqual(COLUMNS.split(', '));
    expect(lines).toHaveLength(rows.length);
    lines.forEach((line, i) => {
      const r = rows[i];
      expect(line).toEqual([
        r.id,
        r.name,
        json.stdout.match(new RegExp(`"id":"${r.id}"[^\\n]*?"budgetAmount":([\\d.]+)`))![1],
        r.launchDate,
        r.endDate ?? '',
        JSON.stringify(r.categories),
        line[6],
      ]);
      expect(JSON.parse(line[6])).toEqual(r._airbyte_data);
    });
    expect(csv.stdout).toContain('"Spin, win ""big""\nsecond line');
  });

  test('a table shows at most 100 rows and says how many there are', async () => {
    const { config, db } = await setup(150);
    await syncJson(config, db);
    const run = await main('query', '--db', db, 'SELECT id FROM offers');
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines.pop()).toBe(
      '(100 of 150 rows shown: add a LIMIT, or use --csv or --json for all)',
    );
    expect(lines).toHaveLength(100 + 3);
    const csv = await main('query', '--db', db, '--csv', 'SELECT id FROM offers');
    expect(csv.stdout.trimEnd().split('\n')).toHaveLength(151);
  });

  test("a bad SQL gets DuckDB's message on one line; a write is refused and the file unchanged", async () => {
    const { config, db } = await setup();
    await syncJson(config, db);
    const before = sha(db);

    const bad = await main('query', '--db', db, 'SELEC name FROM offers');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toBe('query failed: Parser Error: syntax error at or near "SELEC"\n');

    const typo = await main('query', '--db', db, 'SELECT * FROM offer');
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(
      /^query failed: Catalog Error: .*offer.*Did you mean "offers"\?\n$/,
    );

    for (const write of [
      'DELETE FROM offers',
      'DROP TABLE _sync_state',
      `UPDATE offers SET name = 'x'`,
    ]) {
      const run = await main('query', '--db', db, write);
      expect(run.code).toBe(1);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toContain('read-only mode');
      expect(run.stderr).toContain(
        'bin/main query opens the database read-only: it never changes it',
      );
    }
    const copy = await main(
      'query',
      '--db',
      db,
      `COPY offers TO '${path.join(tmp.dir, 'out.csv')}'`,
    );
    expect(copy.code).toBe(1);
    expect(copy.stderr).toContain('reads the database only, no other file');
    expect(fs.existsSync(path.join(tmp.dir, 'out.csv'))).toBe(false);

    const two = await main('query', '--db', db, 'SELECT 1; SELECT 2');
    expect(two.stderr).toBe(
      'query failed: give one SQL statement (got 2); run several one by one\n',
    );
    expect(sha(db)).toBe(before);
    expect((await queryDb(db, 'SELECT count(*)::INTEGER AS n FROM offers'))[0].n).toBe(40);
  });

  test('a missing --db is an error naming it and what to run; no file is created', async () => {
    const missing = path.join(tmp.dir, 'never-synced.duckdb');
    for (const args of [['query', 'SELECT 1'], ['query'], ['state'], ['state', '--reset']]) {
      const run = await main(...args, '--db', missing);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`No database at ${missing}; nothing was created`);
      expect(run.stderr).toContain(`bin/main sync --config config.json --db ${missing}`);
      expect(run.stderr).toContain('npm run demo');
      expect(fs.existsSync(missing)).toBe(false);
    }
  });

  test('without SQL: rows per table, the newest offers, the last runs, and a query to try', async () => {
    const { sim, config, db } = await setup();
    await syncJson(config, db);
    await syncJson(config, db, '--full-refresh');
    const newest = [...sim.offers()].sort((a, b) => b.launchDate.localeCompare(a.launchDate));

    const run = await main('query', '--db', db);
    expect(run.code).toBe(0);
    const text = run.stdout;
    expect(text).toContain(`Database ${db} (opened read-only)`);
    expect(text).toMatch(
      /│ offers +│ +40 │\n│ offer_details +│ +40 │\n│ _sync_state +│ +1 │\n│ _sync_runs +│ +2 │/,
    );
    expect(text).toContain('Newest offers:');
    expect(text).toContain(new Date(newest[0].launchDate).toISOString());
    expect(text).toMatch(/│ +2 │ \S+ +│ full_refresh +│ succeeded +│ +40 │/);
    expect(text).toContain(
      `Try a query (add --json or --csv for scripts):\n  bin/main query --db ${db} "SELECT`,
    );

    const json = await main('query', '--db', db, '--json');
    const summary = JSON.parse(json.stdout);
    expect(summary.db).toBe(db);
    expect(summary.tables).toEqual([
      { table: 'offers', rows: 40 },
      { table: 'offer_details', rows: 40 },
      { table: '_sync_state', rows: 1 },
      { table: '_sync_runs', rows: 2 },
    ]);
    expect(summary.newest_offers.map((o: Offer) => o.name)).toEqual(
      newest.slice(0, 5).map((o) => o.name),
    );
    expect(summary.last_runs.map((r: { mode: string }) => r.mode)).toEqual([
      'full_refresh',
      'incremental',
    ]);
  });
});

describe('bin/main sync --json', () => {
  test('one JSON object per run, its counts those of the sync', async () => {
    const { sim, config, db } = await setup();
    const first = await syncJson(config, db);
    expect(first).toEqual({
      db,
      run_id: 1,
      seconds: expect.any(Number),
      streams: {
        offers: {
          mode: 'incremental',
          records: 40,
          new: 40,
          updated: 0,
          unchanged: 0,
          deleted: 0,
          rows: 40,
          cursor: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        },
        offer_details: {
          mode: 'full_refresh',
          records: 40,
          new: 40,
          updated: 0,
          unchanged: 0,
          deleted: 0,
          rows: 40,
          cursor: null,
        },
      },
    });
    expect(first.seconds).toBeGreaterThan(0);
    expect(String(first.seconds)).toMatch(/^\d+(\.\d{1,3})?$/);

    // Three new offers, one changed, one deleted: a full refresh sees all of it.
    sim.add(generateOffers(3, 7, { idPrefix: 'new-' }));
    const changed = sim.offers()[5];
    sim.update(changed.id, { budgetAmount: changed.budgetAmount + 1 });
    sim.remove([sim.offers()[6].id]);
    const second = await syncJson(config, db, '--full-refresh');
    expect(second.run_id).toBe(2);
    expect(second.streams.offers).toMatchObject({
      mode: 'full_refresh',
      records: 42,
      new: 3,
      updated: 1,
      unchanged: 38,
      deleted: 1,
      rows: 42,
    });
    const [logged] = await queryDb(
      db,
      `SELECT records::INTEGER AS records, inserted::INTEGER AS new, updated::INTEGER AS updated,
         deleted::INTEGER AS deleted, rows_after::INTEGER AS rows, cursor FROM _sync_runs WHERE run_id = 2`,
    );
    expect(logged).toEqual({
      records: 42,
      new: 3,
      updated: 1,
      deleted: 1,
      rows: 42,
      cursor: second.streams.offers.cursor,
    });
  });

  test('a failed sync prints {"error", "run_id"} on stdout and exits 1', async () => {
    const { sim, config, db } = await setup();
    sim.injectFault({ kind: 'status', status: 401, messages: ['Invalid API token'], times: 50 });
    const run = await main('sync', '--config', config, '--db', db, '--json');
    expect(run.code).toBe(1);
    const out = JSON.parse(run.stdout);
    expect(out).toEqual({ error: expect.stringContaining('Invalid API token'), run_id: 1 });
    expect(run.stderr).toContain(`sync failed: ${out.error}`);

    const bad = tmp.write('bad-config.json', { api_token: 'x' });
    const early = await main('sync', '--config', bad, '--db', db, '--json');
    expect(early.code).toBe(1);
    expect(JSON.parse(early.stdout)).toEqual({
      error: expect.stringContaining('tenant'),
      run_id: null,
    });
  });
});

describe('bin/main state', () => {
  test('shows the cursor; --reset says what it clears, clears it, and the next sync reads everything', async () => {
    const { sim, config, db } = await setup(60);
    const first = await syncJson(config, db);
    const cursor = first.streams.offers.cursor;

    const shown = await main('state', '--db', db);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(
      new RegExp(
        `^State in ${db}:\\n  offers: cursor launchDate ${cursor}, saved \\S+Z by run 1\\. `,
      ),
    );
    const json = JSON.parse((await main('state', '--db', db, '--json')).stdout);
    expect(json).toEqual({
      db,
      streams: {
        offers: { state: { launchDate: cursor }, saved_at: expect.any(String), run_id: 1 },
      },
    });

    // Incremental reads only what is near the cursor...
    const incremental = await syncJson(config, db);
    expect(incremental.streams.offers.records).toBeLessThan(60);

    const reset = await main('state', '--db', db, '--reset');
    expect(reset.code).toBe(0);
    expect(reset.stdout).toMatch(
      new RegExp(
        `^Clearing the saved state of offers in ${db} \\(cursor launchDate ${cursor}, saved \\S+ by run 2\\)\\. ` +
          `The next sync reads every offer again; the rows in table offers are kept\\nDone: state cleared\\.\\n$`,
      ),
    );
    expect(await queryDb(db, 'SELECT * FROM _sync_state')).toEqual([]);
    expect((await queryDb(db, 'SELECT count(*)::INTEGER AS n FROM offers'))[0].n).toBe(60);
    expect((await main('state', '--db', db)).stdout).toBe(
      `State in ${db}:\n  offers: no saved state. The next sync reads every offer (rows already in the table are kept)\n`,
    );
    expect(JSON.parse((await main('state', '--db', db, '--json')).stdout).streams).toEqual({
      offers: null,
    });
    const again = await main('state', '--db', db, '--reset', '--stream', 'offers');
    expect(again.stdout).toContain('No saved state for offers');

    // ...and after the reset, the next sync reads the whole inventory again.
    const next = await syncJson(config, db);
    expect(next.streams.offers).toMatchObject({
      records: sim.offers().length,
      new: 0,
      unchanged: 60,
      rows: 60,
      cursor,
    });

    const unknown = await main('state', '--db', db, '--reset', '--stream', 'deals');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(
      'state: unknown stream "deals"; the streams with a state are offers\n',
    );
    const fullOnly = await main('state', '--db', db, '--stream', 'offer_details');
    expect(fullOnly.code).toBe(2);
    expect(fullOnly.stderr).toBe(
      'state: the offer_details stream is read in full every sync and keeps no state; the streams with a state are offers\n',
    );
  });
});
