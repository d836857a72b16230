import { execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { GoKartSimulator } from '../tools/simulator';
import {
  CATALOG_FULL,
  CATALOG_INCREMENTAL,
  CliRun,
  errors,
  ROOT,
  runCli,
  runMainForTest,
  TempDir,
} from './cli-helpers';

// End to end: the mistakes of a first hour with bin/main (a state or catalog that does not
// fit, discover's output as the catalog, no catalog at all), and --version / --help.

const TOKEN = 'sim-token-first-hour';
const OFFERS = 12;
let sim: GoKartSimulator;
const tmp = new TempDir();
let configFile: string;

beforeAll(async () => {
  sim = await GoKartSimulator.start({ offers: OFFERS, token: TOKEN });
  configFile = tmp.write('config.json', { api_token: TOKEN, api_url: sim.url });
});
beforeEach(() => sim.resetStats());
afterAll(async () => {
  await sim.close();
  tmp.remove();
});

const file = (value: unknown) => tmp.write(`input-${Math.random()}.json`, value);
const read = (catalog: string, ...more: string[]) =>
  runCli(['read', '--config', configFile, '--catalog', catalog, ...more]);
const warnings = (run: CliRun) =>
  run.messages.filter((m) => m.type === 'LOG' && m.log.level === 'WARN').map((m) => m.log.message);

describe('a state with nothing for the offers stream', () => {
  const stream = (name: string) => ({
    type: 'STREAM',
    stream: { stream_descriptor: { name }, stream_state: { launchDate: '2099-01-01T00:00:00Z' } },
  });
  it.each([
    [
      'other streams only',
      [stream('users'), stream('events')],
      'state for the "users" stream; state for the "events" stream',
    ],
    [
      'a GLOBAL state',
      [{ type: 'GLOBAL', global: { shared_state: { launchDate: '2099-01-01T00:00:00Z' } } }],
      'a GLOBAL state, which this source does not use',
    ],
    [
      'a legacy object for another stream',
      { users: { launchDate: '2099-01-01T00:00:00Z' } },
      'a legacy state for "users"',
    ],
    ['a bare number', 20990101, 'a number (20990101)'],
  ])('%s: warns, and reads every offer from the start', async (_label, state, found) => {
    const run = await read(CATALOG_INCREMENTAL, '--state', file(state));
    expect(run.code).toBe(0);
    expect(warnings(run)).toContain(
      `state: no saved state for the offers stream (found ${found}); the offers stream is read from the start`,
    );
    expect(run.records).toHaveLength(OFFERS);
  });

  it('does not warn about its own empty state or none', async () => {
    const own = [
      { type: 'STREAM', stream: { stream_descriptor: { name: 'offers' }, stream_state: {} } },
    ];
    for (const run of [
      await read(CATALOG_INCREMENTAL, '--state', file(own)),
      await read(CATALOG_INCREMENTAL),
    ]) {
      expect(warnings(run)).toEqual([]);
    }
  });
});

it("refuses a read's whole output as --state, saying how to take the state from it", async () => {
  const first = await read(CATALOG_INCREMENTAL);
  const output = tmp.write('output.jsonl', first.stdout);
  sim.resetStats();
  const run = await read(CATALOG_INCREMENTAL, '--state', output);
  expect(run.code).toBe(1);
  expect(errors(run)).toEqual([
    expect.objectContaining({
      failure_type: 'config_error',
      message:
        `The state file ${output} looks like connector output (Airbyte messages, one per line); ` +
        `pass the last STATE message's "state", in a list: ` +
        `jq -c 'select(.type == "STATE") | [.state]' output.jsonl | tail -n 1 > state.json`,
    }),
  ]);
  expect(sim.requests).toHaveLength(0);
});

it('warns that an empty catalog syncs nothing', async () => {
  const run = await read(file({ streams: [] }));
  expect(run.code).toBe(0);
  expect(warnings(run)).toEqual([
    'catalog: the "streams" list is empty, so nothing will be synced',
  ]);
  expect(run.records).toHaveLength(0);
  expect(sim.requests).toHaveLength(0);
});

describe("discover's output as --catalog", () => {
  const JQ = (streams: string) =>
    `jq '{streams: [${streams}[] | (.supported_sync_modes | index("incremental")) as $inc | {stream: ., sync_mode: (if $inc then "incremental" else "full_refresh" end), destination_sync_mode: (if $inc then "append_dedup" else "overwrite" end)}]}'`;
  let discovered: string;
  beforeAll(async () => {
    const run = await runCli(['discover', '--config', configFile]);
    discovered = tmp.write('discover.json', run.stdout);
  });

  it('a CATALOG message: says so and gives the jq line that makes a configured catalog', async () => {
    const run = await read(discovered);
    expect(run.code).toBe(1);
    expect(errors(run)[0]).toMatchObject({
      failure_type: 'config_error',
      message:
        "catalog: this is discover's output (a CATALOG message), not a configured catalog; " +
        `make one with: ${JQ('.catalog.streams')} discover.json > catalog.json`,
    });
    expect(sim.requests).toHaveLength(0);
  });

  it('its catalog (streams[].name): says so and gives the jq line', async () => {
    const catalog = JSON.parse(fs.readFileSync(discovered, 'utf8')).catalog;
    const run = await read(file(catalog));
    expect(run.code).toBe(1);
    expect(errors(run)[0]).toMatchObject({
      failure_type: 'config_error',
      message:
        `catalog: streams[0] has "name" but no "stream": this is discover's catalog, not a configured one; ` +
        `make one with: ${JQ('.streams')} discovered.json > catalog.json`,
    });
  });

  const hasJq = (() => {
    try {
      execFileSync('jq', ['--version']);
      return true;
    } catch {
      return false;
    }
  })();
  (hasJq ? it : it.skip)("the jq line's output is a catalog that read accepts", async () => {
    const filter = /^jq '(.*)'$/.exec(JQ('.catalog.streams'))![1];
    const catalog = tmp.write('from-jq.json', execFileSync('jq', [filter, discovered]).toString());
    const run = await read(catalog);
    expect(run.code).toBe(0);
    expect(run.records).toHaveLength(OFFERS * 2); // offers and offer_details
    expect(run.logs).toContainEqual(expect.stringMatching(/^Read 12 offers \(incremental\)/));
    expect(run.logs).toContainEqual(
      expect.stringMatching(/^Read 12 offer_details \(full_refresh\)/),
    );
    expect(run.states).toHaveLength(2);
  });
});

it('read without --catalog reads every stream in its default mode, and says so on stderr', async () => {
  const run = await runCli(['read', '--config', configFile]);
  expect(run.code).toBe(0);
  expect(run.stderr).toBe(
    'No --catalog given: reading every stream with its default sync mode (offers: incremental, offer_details: full_refresh)\n',
  );
  expect(run.records).toHaveLength(OFFERS * 2);
  expect(run.logs).toContainEqual(expect.stringMatching(/^Read 12 offers \(incremental\)/));
  expect(run.states).toHaveLength(2);
  // With a catalog (as Airbyte always passes one) nothing is said.
  expect((await read(CATALOG_FULL)).stderr).toBe('');
});

describe('--version and help', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

  it('--version prints the version on stdout', async () => {
    const run = await runMainForTest(['--version']);
    expect(run).toMatchObject({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });

  it('--help names the connector, shows an example per command and links the docs, on stdout', async () => {
    const run = await runMainForTest(['--help']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain(
      `source-gokart-offers ${pkg.version}: GoKart offers source for Airbyte`,
    );
    for (const command of ['spec', 'check', 'discover', 'read', 'sync']) {
      expect(run.stdout).toMatch(new RegExp(`^  bin/main ${command}\\b`, 'm'));
    }
    const docs = /documentationUrl: (\S+)/.exec(
      fs.readFileSync(path.join(ROOT, 'metadata.yaml'), 'utf8'),
    )![1];
    expect(run.stdout).toContain(`Docs: ${docs}\n`);
    const readHelp = await runMainForTest(['read', '--help']);
    expect(readHelp.stdout).toContain(
      'Example:\n  bin/main read --config config.json --catalog catalog.json --state state.json > output.jsonl\n',
    );
  });

  it('a usage error prints the help on stderr, nothing on stdout', async () => {
    // --config is optional (GOKART_* variables may set the options): a misspelt option is the usage error.
    const run = await runMainForTest(['read', '--catalogue', CATALOG_FULL]);
    expect(run).toMatchObject({ code: 1, stdout: '' });
    expect(run.stderr).toContain("error: unknown option '--catalogue'");
    expect(run.stderr).toContain('Usage: bin/main read [options]');
  });
});
