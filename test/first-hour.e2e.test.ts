/**
 * The first hour with the connector, end to end: the mistakes people make in a
 * config, each caught with one clear line, and a config from GOKART_*
 * variables. bin/main runs as a child process against the simulator.
 */
import { execFile } from 'child_process';
import fs from 'fs';
import path from 'path';
import { generateOffers, GoKartSimulator } from '../tools/simulator';
import { CATALOG_FULL, CliRun, errors, MAIN, Message, ROOT, runCli, TempDir } from './cli-helpers';

const TOKEN = 'sim-token-first-hour-7c1d';
let sim: GoKartSimulator;
const tmp = new TempDir();

// Every GOKART_<OPTION> variable blanked (a blank variable sets nothing), so a
// variable in the environment running the tests cannot change them.
const SPEC = JSON.parse(fs.readFileSync(path.join(ROOT, 'resources', 'spec.json'), 'utf8'));
const NO_OPTIONS: Record<string, string> = Object.fromEntries(
  Object.keys(SPEC.connectionSpecification.properties).map((o) => [
    `GOKART_${o.toUpperCase()}`,
    '',
  ]),
);
const env = (vars: Record<string, string> = {}) => ({ ...NO_OPTIONS, ...vars });

beforeAll(async () => {
  sim = await GoKartSimulator.start({ offers: 0, token: TOKEN });
});
beforeEach(() => {
  sim.remove(sim.offers().map((o) => o.id));
  sim.add(generateOffers(30, 3));
  sim.clearFaults();
  sim.resetStats();
});
afterAll(async () => {
  await sim.close();
  tmp.remove();
});

function config(values: Record<string, unknown>): string {
  return tmp.write(`config-${Math.random()}.json`, values);
}

const good = () => ({ api_token: TOKEN, api_url: sim.url });

function status(run: CliRun): Message | undefined {
  return run.messages.find((m) => m.type === 'CONNECTION_STATUS')?.connectionStatus;
}

describe('mistakes in the config file', () => {
  it('check warns about an unknown key with a suggestion, and still succeeds', async () => {
    const run = await runCli(
      ['check', '--config', config({ ...good(), start_dte: '2024-01-01T00:00:00Z' })],
      env(),
    );
    expect(run.code).toBe(0);
    expect(run.messages.filter((m) => m.type === 'LOG' && m.log.level === 'WARN')).toEqual([
      {
        type: 'LOG',
        log: { level: 'WARN', message: 'unknown key start_dte: did you mean start_date?' },
      },
    ]);
    expect(status(run)).toEqual({
      status: 'SUCCEEDED',
      message: `Connected to ${sim.url}: 30 offers visible (1 warning: unknown key start_dte: did you mean start_date?)`,
    });
  });

  it('read warns about an unknown key as a LOG WARN and reads on with the default', async () => {
    const run = await runCli(
      ['read', '--config', config({ ...good(), page_sise: 10 }), '--catalog', CATALOG_FULL],
      env(),
    );
    expect(run.code).toBe(0);
    expect(run.logs).toContain('unknown key page_sise: did you mean page_size?');
    expect(run.records).toHaveLength(30);
    expect(sim.requests.map((r) => r.pageSize)).toEqual([100]);
  });

  it('a misspelt api_token is named in the required error', async () => {
    const { api_token, ...rest } = good();
    const run = await runCli(
      ['check', '--config', config({ ...rest, api_tokn: api_token })],
      env(),
    );
    expect(status(run)).toEqual({
      status: 'FAILED',
      message:
        'Invalid configuration: api_token is required (found api_tokn: did you mean api_token?)',
    });
    expect(sim.requests).toHaveLength(0);
  });

  it('an unknown offer type lists the allowed values; an empty token "must not be empty"', async () => {
    const run = await runCli(
      ['check', '--config', config({ ...good(), api_token: '', offer_types: ['Single'] })],
      env(),
    );
    expect(status(run)).toEqual({
      status: 'FAILED',
      message:
        'Invalid configuration: api_token must not be empty; offer_types[0] must be one of SingleEvent, MultiEvent (got "Single")',
    });
  });

  it('read refuses the same config with the same prefix', async () => {
    const run = await runCli(
      [
        'read',
        '--config',
        config({ ...good(), offer_types: ['Single'] }),
        '--catalog',
        CATALOG_FULL,
      ],
      env(),
    );
    expect(run.code).toBe(1);
    expect(errors(run)).toEqual([
      {
        message:
          'Invalid configuration: offer_types[0] must be one of SingleEvent, MultiEvent (got "Single")',
        failure_type: 'config_error',
      },
    ]);
  });

  it('a redirect names where it points', async () => {
    sim.injectFault({ kind: 'status', status: 301, location: 'https://portal.example.com/login' });
    const run = await runCli(['check', '--config', config(good())], env());
    expect(status(run)).toEqual({
      status: 'FAILED',
      message:
        'GoKart answered a redirect (HTTP 301 (API said: Moved Permanently)) for page 0 to "https://portal.example.com/login", which the connector does not follow: check tenant or api_url',
    });
  });

  it('a host that does not resolve blames the setting or the DNS, not the tenant alone', async () => {
    // .invalid never resolves (RFC 6761).
    const run = await runCli(
      ['check', '--config', config({ api_token: TOKEN, api_url: 'https://gokart-e2e.invalid' })],
      env(),
    );
    expect(status(run)).toEqual({
      status: 'FAILED',
      message:
        "Cannot resolve host gokart-e2e.invalid: check the api_url, or the machine's DNS/network",
    });
  });

  it('counts one offer and one request in the singular', async () => {
    sim.remove(sim.offers().map((o) => o.id));
    sim.add(generateOffers(1, 4));
    const check = await runCli(['check', '--config', config(good())], env());
    expect(status(check)).toEqual({
      status: 'SUCCEEDED',
      message: `Connected to ${sim.url}: 1 offer visible`,
    });
    const read = await runCli(
      ['read', '--config', config(good()), '--catalog', CATALOG_FULL],
      env(),
    );
    expect(read.logs.find((l) => l.startsWith('Read '))).toMatch(
      /^Read 1 offer \(full_refresh\) with 1 request in \d+ ms$/,
    );
  });
});

describe('config from GOKART_* variables', () => {
  const fromEnv = () =>
    env({ GOKART_API_TOKEN: TOKEN, GOKART_API_URL: sim.url, GOKART_PAGE_SIZE: '7' });

  it('check and read run without --config', async () => {
    const check = await runCli(['check'], fromEnv());
    expect(check.code).toBe(0);
    expect(check.logs).toEqual([
      'Options from the environment: GOKART_API_TOKEN, GOKART_API_URL, GOKART_PAGE_SIZE',
    ]);
    expect(status(check)).toEqual({
      status: 'SUCCEEDED',
      message: `Connected to ${sim.url}: 30 offers visible`,
    });
    sim.resetStats();
    const read = await runCli(['read', '--catalog', CATALOG_FULL], fromEnv());
    expect(read.code).toBe(0);
    expect(new Set(read.records.map((r) => r.record.data.id)).size).toBe(30);
    expect(read.states).toHaveLength(1);
    expect(sim.requests.every((r) => r.pageSize === 7)).toBe(true);
  });

  it('takes offer_types as a comma list', async () => {
    const run = await runCli(['read', '--catalog', CATALOG_FULL], {
      ...fromEnv(),
      GOKART_OFFER_TYPES: ' MultiEvent ,',
    });
    expect(run.code).toBe(0);
    expect(sim.requests[0].offerType).toBe('MultiEvent');
    expect(run.records.every((r) => r.record.data.offerType === 'MultiEvent')).toBe(true);
  });

  it('the config file wins over a variable, with a WARN naming the variable', async () => {
    const run = await runCli(
      ['read', '--config', config({ ...good(), page_size: 20 }), '--catalog', CATALOG_FULL],
      fromEnv(),
    );
    expect(run.code).toBe(0);
    expect(run.logs).toContain('the config file sets page_size, so GOKART_PAGE_SIZE is ignored');
    // Equal values override nothing: no warning for the token and URL the file repeats.
    expect(run.logs.filter((l) => l.includes('is ignored'))).toHaveLength(1);
    expect(sim.requests.map((r) => r.pageSize)).toEqual([20, 20]);
  });

  it('scrubs a token from the environment like one from a file', async () => {
    sim.injectFault({
      kind: 'status',
      status: 400,
      messages: ['bad token {token}'],
      echoToken: true,
    });
    const run = await runCli(['read', '--catalog', CATALOG_FULL], fromEnv());
    expect(run.code).toBe(1);
    expect(run.stdout).not.toContain(TOKEN);
    expect(errors(run)[0].message).toContain('(API said: bad token **********)');
  });

  it('without a file or a variable, says what to give', async () => {
    const run = await runCli(['check'], env());
    expect(run.code).toBe(1);
    expect(errors(run)).toEqual([
      {
        message:
          'Invalid configuration: no config file and no GOKART_* environment variables: give --config <file>, or set GOKART_API_TOKEN and GOKART_TENANT (or GOKART_API_URL)',
        failure_type: 'config_error',
      },
    ]);
  });

  it('sync runs from variables alone, and prints config warnings on stderr', async () => {
    const db = path.join(tmp.dir, `env-${Math.random()}.duckdb`);
    const plain = await syncCli(['sync', '--db', db], fromEnv());
    expect(plain.stderr).toBe('');
    expect(plain.stdout).toMatch(/^Synced 30 offers \(incremental\) into /);
    const typo = await syncCli(
      ['sync', '--db', db, '--config', config({ start_dte: '2024-01-01T00:00:00Z' })],
      fromEnv(),
    );
    expect(typo.stderr).toBe('warn: unknown key start_dte: did you mean start_date?\n');
    expect(typo.code).toBe(0);
  });
});

function syncCli(
  args: string[],
  vars: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      { env: { ...process.env, ...vars } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    );
  });
}
