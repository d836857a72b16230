import { spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { generateOffers, GoKartSimulator } from './simulator';

/**
 * The README's first command: a real sync against the bundled simulator.
 * Runs bin/main exactly as Airbyte would (check, discover, a full read, then
 * an incremental read from the saved state) and prints what happened.
 */
const MAIN = path.resolve(__dirname, '..', 'bin', 'main');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Message = Record<string, any>;

interface Run {
  code: number | null;
  messages: Message[];
  ms: number;
}

function connector(args: string[]): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code,
        messages: out
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l)),
        ms: Date.now() - started,
      }),
    );
  });
}

function summarize(label: string, run: Run): Message | undefined {
  const records = run.messages.filter((m) => m.type === 'RECORD');
  const state = run.messages.find((m) => m.type === 'STATE');
  const error = run.messages.find((m) => m.type === 'TRACE' && m.trace.type === 'ERROR');
  if (error || run.code !== 0) {
    throw new Error(`${label} failed: ${error?.trace.error.message ?? `exit ${run.code}`}`);
  }
  const cursor = state?.state.stream.stream_state.launchDate;
  console.log(
    `${label.padEnd(18)} ${String(records.length).padStart(6)} offers in ${run.ms} ms; cursor → ${cursor}`,
  );
  return state?.state;
}

async function main(): Promise<void> {
  const offers = Number(process.env.DEMO_OFFERS) || 5000;
  const sim = await GoKartSimulator.start({ offers, latencyMs: 5 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gokart-demo-'));
  const file = (name: string, value: unknown) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, JSON.stringify(value, null, 2));
    return p;
  };
  const catalogs = path.resolve(__dirname, '..', 'test_files');
  try {
    console.log(`GoKart simulator on ${sim.url} with ${offers} offers; files in ${dir}\n`);
    const config = file('config.json', { api_token: sim.options.token, api_url: sim.url });

    const check = await connector(['check', '--config', config]);
    const status = check.messages.find((m) => m.type === 'CONNECTION_STATUS')?.connectionStatus;
    console.log(`check              ${status?.status}: ${status?.message}`);
    if (status?.status !== 'SUCCEEDED') throw new Error('check failed');

    const discover = await connector(['discover', '--config', config]);
    const stream = discover.messages.find((m) => m.type === 'CATALOG')?.catalog.streams[0];
    console.log(
      `discover           stream "${stream.name}", modes ${stream.supported_sync_modes.join(' + ')}, cursor ${stream.default_cursor_field}`,
    );

    const full = await connector([
      'read',
      '--config',
      config,
      '--catalog',
      path.join(catalogs, 'configured_catalog.json'),
    ]);
    const state = summarize('full refresh', full);

    // Partners keep publishing: 25 offers launch "now", one is backdated by a day.
    const now = new Date();
    const fresh = generateOffers(25, 42, {
      from: new Date(now.getTime() - 3_600_000),
      to: now,
      idPrefix: 'new-',
    });
    fresh.push(
      ...generateOffers(1, 43, {
        from: new Date(now.getTime() - 86_400_000),
        to: new Date(now.getTime() - 86_000_000),
        idPrefix: 'late-',
      }),
    );
    sim.add(fresh);
    sim.resetStats();

    const incremental = await connector([
      'read',
      '--config',
      config,
      '--catalog',
      path.join(catalogs, 'configured_catalog_incremental.json'),
      '--state',
      file('state.json', [state]),
    ]);
    summarize('incremental', incremental);
    const got = new Set(
      incremental.messages.filter((m) => m.type === 'RECORD').map((m) => m.record.data.id),
    );
    const caught = fresh.filter((o) => got.has(o.id)).length;
    console.log(
      `\nThe incremental sync made ${sim.requests.length} request(s) and caught ${caught}/${fresh.length} new offers ` +
        `(plus offers inside the lookback window, which an append+dedup destination merges by id).`,
    );
  } finally {
    await sim.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : err}`);
  process.exitCode = 1;
});
