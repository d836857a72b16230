import { DuckDBInstance } from '@duckdb/node-api';
import { spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { generateOffers, GoKartSimulator } from './simulator';

/**
 * The README's first command, against the bundled simulator: first the
 * connector as Airbyte runs it (check, discover, a full and an incremental
 * read), then incremental loading into DuckDB: sync into a fresh database,
 * change the inventory, sync again, query the table.
 */
const MAIN = path.resolve(__dirname, '..', 'bin', 'main');
const CATALOGS = path.resolve(__dirname, '..', 'test_files');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Message = Record<string, any>;

/** Runs bin/main and returns its stdout as Airbyte messages. */
function airbyte(args: string[]): Promise<Message[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', () =>
      resolve(
        out
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l)),
      ),
    );
  });
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

function sync(args: string[]): Promise<void> {
  console.log(`\n$ bin/main sync ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, 'sync', ...args], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`sync exited ${code}`)),
    );
  });
}

async function show(db: string, sql: string): Promise<void> {
  const instance = await DuckDBInstance.create(db);
  const conn = await instance.connect();
  try {
    const result = await conn.runAndReadAll(sql);
    const text = (v: unknown) =>
      typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
    const rows = [result.columnNames(), ...result.getRowsJson().map((r) => r.map(text))];
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    console.log(`\n${sql}`);
    for (const r of rows) console.log('  ' + r.map((v, i) => v.padEnd(widths[i])).join('  '));
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

async function main(): Promise<void> {
  const offers = Number(process.env.DEMO_OFFERS) || 5000;
  const sim = await GoKartSimulator.start({ offers, latencyMs: 5 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gokart-demo-'));
  try {
    const config = path.join(dir, 'config.json');
    fs.writeFileSync(config, JSON.stringify({ api_token: sim.options.token, api_url: sim.url }));
    const db = path.join(dir, 'gokart-offers.duckdb');
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

    await show(
      db,
      `SELECT count(*) AS offers, count(*) FILTER (id LIKE 'new-%') AS new, sum(budgetAmount)::DECIMAL(14,2) AS budget FROM offers`,
    );
    await show(
      db,
      `SELECT name, budgetAmount::DECIMAL(12,2) AS budget, launchDate, categories FROM offers ORDER BY launchDate DESC LIMIT 4`,
    );
    await show(db, `SELECT run_id, mode, records, inserted, updated, outcome FROM _sync_runs`);
  } finally {
    await sim.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : err}`);
  process.exitCode = 1;
});
