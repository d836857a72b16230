import { DuckDBInstance } from '@duckdb/node-api';
import { spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { generateOffers, GoKartSimulator } from './simulator';

/**
 * The README's first command: incremental loading into DuckDB, against the
 * bundled simulator. Syncs into a fresh database, changes the inventory, syncs
 * again, then queries the table.
 */
const MAIN = path.resolve(__dirname, '..', 'bin', 'main');

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
