import fs from 'fs';
import path from 'path';
import { GoKartSimulator } from '../tools/simulator';
import { ROOT, runCli, TempDir } from './cli-helpers';

// The README's "Run the connector" commands with the files in samples/, against the
// simulator as `npm run simulator -- --port 8080` starts it (its defaults), on a free port.

const SAMPLES = path.join(ROOT, 'samples');
const sample = (name: string) => path.join(SAMPLES, name);
let sim: GoKartSimulator;
let config: string;
const tmp = new TempDir();

beforeAll(async () => {
  sim = await GoKartSimulator.start();
  const json = JSON.parse(fs.readFileSync(sample('config.json'), 'utf8'));
  expect(json).toEqual({ api_token: 'sim-token', api_url: 'http://127.0.0.1:8080' });
  config = tmp.write('config.json', { ...json, api_url: sim.url });
});
afterAll(async () => {
  await sim.close();
  tmp.remove();
});

describe('samples/', () => {
  it('checks and reads everything with the full-refresh catalog', async () => {
    const check = await runCli(['check', '--config', config]);
    expect(check.messages[0].connectionStatus.status).toBe('SUCCEEDED');
    const run = await runCli([
      'read',
      '--config',
      config,
      '--catalog',
      sample('catalog_full_refresh.json'),
    ]);
    expect(run.code).toBe(0);
    expect(run.records).toHaveLength(250);
    expect(run.states).toHaveLength(1);
  });

  it('reads only recent offers with the incremental catalog and the sample state', async () => {
    const [saved] = JSON.parse(fs.readFileSync(sample('state.json'), 'utf8'));
    const cursor = Date.parse(saved.stream.stream_state.launchDate);
    const run = await runCli([
      'read',
      '--config',
      config,
      '--catalog',
      sample('catalog_incremental.json'),
      '--state',
      sample('state.json'),
    ]);
    expect(run.code).toBe(0);
    const launches = run.records.map((r) => Date.parse(r.record.data.launchDate));
    expect(launches.length).toBeGreaterThan(0);
    expect(launches.length).toBeLessThan(250);
    const lookback = 3 * 24 * 3600 * 1000;
    expect(Math.min(...launches)).toBeGreaterThanOrEqual(cursor - lookback);
    const next = run.states[0].state.stream.stream_state.launchDate;
    expect(Date.parse(next)).toBeGreaterThanOrEqual(cursor);
  });
});
