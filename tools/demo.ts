import fs from 'fs';
import os from 'os';
import path from 'path';

import { ROOT, runMain } from './run-cli';
import { generateOffers, GoKartSimulator } from './simulator';

/**
 * The README's first command, against the bundled simulator: first the
 * connector as Airbyte runs it (check, discover, a full and an incremental
 * read), then incremental loading into DuckDB: sync into a fresh database,
 * change the inventory, sync again, query the table with `bin/main query`. The
 * database stays in the checkout (./gokart-demo.duckdb, git-ignored) to explore.
 */
const CATALOGS = path.join(ROOT, 'test_files');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Message = Record<string, any>;

/** Runs bin/main and returns its stdout as Airbyte messages. */
async function airbyte(args: string[]): Promise<Message[]> {
  const { stdout } = await runMain(args, { stderr: 'inherit' });
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** Check, discover, a full read and an incremental read from its state, one line each. */
async function airbyteProtocol(config: string, dir: string, sim: GoKartSimulator): Promise<void> {
  console.log('\n1. As Airbyte runs it (bin/main check | discover | read):');
  const status = (await airbyte(['check', '--config', config]))[0].connectionStatus;
  console.log(`   check     ${status.status}: ${status.message}`);
  const stream = (await airbyte(['discover', '--config', config]))[0].catalog.streams[0];
  console.log(
    `   discover  stream "${stream.name}": ${stream.supported_sync_modes.join(' + ')}, cursor ${stream.default_cursor_field}, key ${stream.source_defined_primary_key}`,
  );
  const read = async (label: string, catalog: string, state?: Message) => {
    const args = ['read', '--config', config, '--catalog', path.join(CATALOGS, catalog)];
    if (state) fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify([state]));
    if (state) args.push('--state', path.join(dir, 'state.json'));
    sim.resetStats();
    const messages = await airbyte(args);
    const records = messages.filter((m) => m.type === 'RECORD').length;
    const last = messages.filter((m) => m.type === 'STATE').pop()?.state;
    const error = messages.find((m) => m.type === 'TRACE' && m.trace.type === 'ERROR');
    if (!last) throw new Error(`${label} read failed: ${error?.trace.error.message}`);
    console.log(
      `   ${label.padEnd(9)} ${records} records in ${sim.requests.length} requests; state ${JSON.stringify(last.stream.stream_state)}`,
    );
    return last;
  };
  const state = await read('full', 'configured_catalog.json');
  sim.add(
    generateOffers(5, 7, {
      from: new Date(Date.now() - 60_000),
      to: new Date(),
      idPrefix: 'fresh-',
    }),
  );
  await read('incremental', 'configured_catalog_incremental.json', state);
  console.log('   (5 offers were just published; the rest are inside the 3-day lookback window)');
}

async function sync(args: string[]): Promise<void> {
  console.log(`\n$ bin/main sync ${args.join(' ')}`);
  const run = await runMain(['sync', ...args], { stdout: 'inherit', stderr: 'inherit' });
  if (run.code !== 0) throw new Error(`sync exited ${run.code ?? run.signal}`);
}

/** The demo's database: in the checkout, kept after the demo (git-ignores *.duckdb). */
const DB = path.join(ROOT, 'gokart-demo.duckdb');
/** DB as the user types it: relative to where they are. */
const DB_ARG = path.relative(process.cwd(), DB).replace(/^(?!\.|\/)/, './');

/** `bin/main query`, printed as the user would type it, its table shown as it prints it. */
async function query(sql: string): Promise<void> {
  console.log(`\n$ bin/main query --db ${DB_ARG} "${sql}"`);
  const run = await runMain(['query', '--db', DB_ARG, sql], {
    stdout: 'inherit',
    stderr: 'inherit',
  });
  if (run.code !== 0) throw new Error(`query exited ${run.code ?? run.signal}`);
}

async function main(): Promise<void> {
  const offers = Number(process.env.DEMO_OFFERS) || 5000;
  const sim = await GoKartSimulator.start({ offers, latencyMs: 5 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gokart-demo-'));
  try {
    const config = path.join(dir, 'config.json');
    fs.writeFileSync(config, JSON.stringify({ api_token: sim.options.token, api_url: sim.url }));
    // A fresh database each run, kept afterwards.
    for (const file of [DB, `${DB}.wal`]) fs.rmSync(file, { force: true });
    const db = DB_ARG;
    console.log(`GoKart simulator on ${sim.url} with ${offers} offers; files in ${dir}`);
    await airbyteProtocol(config, dir, sim);

    console.log('\n2. Without Airbyte: bin/main sync into an embedded DuckDB database.');
    await sync(['--config', config, '--db', db]);

    // The partner publishes 25 offers and raises the budget of its newest one.
    const now = Date.now();
    const newest = sim.offers().sort((a, b) => b.launchDate.localeCompare(a.launchDate))[0];
    sim.add(
      generateOffers(25, 42, {
        from: new Date(now - 3_600_000),
        to: new Date(now),
        idPrefix: 'new-',
      }),
    );
    sim.update(newest.id, { budgetAmount: newest.budgetAmount + 1000 });
    console.log(
      '\nThe partner publishes 25 offers and raises one budget. Sync again: only recent launches are read.',
    );
    await sync(['--config', config, '--db', db]);

    console.log('\n3. Look at the data: bin/main query (read-only; --json or --csv for scripts).');
    await query(
      `SELECT count(*) AS offers, count(*) FILTER (id LIKE 'new-%') AS new, sum(budgetAmount)::DECIMAL(14,2) AS budget FROM offers`,
    );
    await query(
      `SELECT name, budgetAmount::DECIMAL(12,2) AS budget, launchDate, categories FROM offers ORDER BY launchDate DESC LIMIT 4`,
    );
    await query(`SELECT run_id, mode, records, inserted, updated, outcome FROM _sync_runs`);
    console.log(nextSteps());
  } finally {
    await sim.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function nextSteps(): string {
  return `
The database stays at ${DB_ARG} (git-ignored; the next demo starts it afresh).

Next steps:
  bin/main query --db ${DB_ARG}   # summary: rows, newest offers, last runs
  bin/main query --db ${DB_ARG} "SELECT offerType, count(*) AS offers FROM offers GROUP BY ALL"
  bin/main query --db ${DB_ARG} --csv "SELECT * FROM offers" > offers.csv
  bin/main state --db ${DB_ARG}   # the saved cursor; --reset to read everything again
  Your tenant: put {"api_token": "…", "tenant": "acme"} in config.json (or set GOKART_API_TOKEN and
  GOKART_TENANT), then: bin/main check --config config.json && bin/main sync --config config.json
  Guide (options, Airbyte, Singer, troubleshooting): docs/gokart.md`;
}

main().catch((err) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : err}`);
  process.exitCode = 1;
});
