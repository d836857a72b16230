/**
 * End to end: bin/main read (and sync) against a simulator whose paging goes wrong:
 * short and empty pages in the middle of the list, and pages that repeat under a
 * huge totalPages. A scan must prove it is complete before it saves a state.
 */
import { queryDb } from './db-helpers';
import fs from 'fs';
import path from 'path';
import { generateOffers, GoKartSimulator } from '../tools/simulator';
import type { RunResult } from '../tools/run-cli';
import {
  CATALOG_FULL,
  CliRun,
  errors,
  ROOT,
  runCli,
  runMainForTest,
  statuses,
  TempDir,
} from './cli-helpers';

const OFFERS = 1000; // 10 pages of the default page_size 100
let sim: GoKartSimulator;
const tmp = new TempDir();

beforeAll(async () => {
  if (!fs.existsSync(path.join(ROOT, 'lib', 'sync.js'))) {
    throw new Error('lib/ is missing: run `npm run build` first (npm test does)');
  }
  sim = await GoKartSimulator.start({ offers: 0 });
  sim.add(generateOffers(OFFERS, 11));
});
beforeEach(() => {
  sim.clearFaults();
  sim.onRequest(undefined);
  sim.resetStats();
});
afterAll(async () => {
  await sim.close();
  tmp.remove();
});

function configFile(): string {
  return tmp.write('config.json', { api_token: sim.options.token, api_url: sim.url });
}

const read = (): Promise<CliRun> =>
  runCli(['read', '--config', configFile(), '--catalog', CATALOG_FULL]);
const pageRequests = (page: number) => sim.requests.filter((r) => r.page === page).length;

/** The read failed with a transient TRACE ERROR saying `what`, and saved no state. */
function expectIncomplete(run: CliRun, what: string): void {
  expect(run.code).not.toBe(0);
  expect(run.states).toHaveLength(0);
  expect(statuses(run).at(-1)).toBe('INCOMPLETE');
  const [error] = errors(run);
  expect(error.failure_type).toBe('transient_error');
  expect(error.message).toContain(what);
}

describe('read against hostile paging', () => {
  it.each([
    ['short', 10],
    ['empty', 0],
  ])('fails without a state when page 3 stays %s', async (_name, keep) => {
    sim.injectFault({ kind: 'short-page', page: 3, keep, times: 1000 });
    const run = await read();
    expectIncomplete(
      run,
      `did not add up in 4 full reads (page 3 had ${keep} of 100 offers (pageSize 100, totalCount ${OFFERS}))`,
    );
    expect(pageRequests(3)).toBe(4 * 3); // each of 4 passes asks for page 3 three times
  });

  it('asks again for a page that came back empty once, and reads every offer', async () => {
    sim.injectFault({ kind: 'short-page', page: 3, times: 1 });
    const run = await read();
    expect(run.code).toBe(0);
    const got = run.records.map((r) => r.record.data.id as string);
    expect(got.sort()).toEqual(
      sim
        .offers()
        .map((o) => o.id)
        .sort(),
    );
    expect(run.states).toHaveLength(1);
    expect(pageRequests(3)).toBe(2);
  });

  it('stops a server that alternates pages 0 and 1 under 10 million pages', async () => {
    sim.injectFault({ kind: 'repeat-pages', times: Number.MAX_SAFE_INTEGER });
    // Without the fix the read never ends: lift the fault after 5,000 requests so
    // such a read ends (and the test fails) instead of hanging.
    sim.onRequest((_entry, served) => {
      if (served === 5000) sim.clearFaults();
    });
    const started = Date.now();
    const run = await read();
    const seconds = (Date.now() - started) / 1000;
    expectIncomplete(run, 'distinct ids 200 of 300 expected: pages 0–2 repeat offers');
    expect(seconds).toBeLessThan(20);
    expect(sim.requests.length).toBeLessThan(50);
  });
});

describe('sync --full-refresh against a short page', () => {
  /** Every row's id and extraction time: any rewrite of the table changes it. */
  function snapshot(db: string): Promise<unknown[]> {
    return queryDb(db, 'SELECT id, _airbyte_extracted_at::VARCHAR AS at FROM offers ORDER BY id');
  }

  function sync(db: string): Promise<RunResult> {
    return runMainForTest(['sync', '--config', configFile(), '--db', db, '--full-refresh']);
  }

  it('deletes nothing and leaves the table as it was', async () => {
    const db = path.join(tmp.dir, 'offers.duckdb');
    const first = await sync(db);
    expect(first.stdout).toMatch(/^Synced 1,000 offers \(full refresh\)/);
    const before = await snapshot(db);
    expect(before).toHaveLength(OFFERS);

    sim.injectFault({ kind: 'short-page', page: 3, keep: 10, times: 1000 });
    const run = await sync(db);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      /^sync failed: .*did not add up.*page 3 had 10 of 100 offers.*the table keeps its previous contents/m,
    );
    expect(await snapshot(db)).toEqual(before);
  });
});
