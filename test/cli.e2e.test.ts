import { generateOffers, GoKartSimulator } from '../tools/simulator';
import {
  CATALOG_FULL,
  CATALOG_INCREMENTAL,
  CliRun,
  errors,
  resetSimulator,
  ROOT,
  runCli,
  runMainForTest,
  simulatorConfig,
  statuses,
  TempDir,
} from './cli-helpers';
import fs from 'fs';
import path from 'path';

// End to end: bin/main as a child process against the simulator; every stdout
// line is checked against the plain Airbyte protocol by runCli.

const TOKEN = 'sim-token-e2e-5f2b9c';
let sim: GoKartSimulator;
const tmp = new TempDir();

beforeAll(async () => {
  sim = await GoKartSimulator.start({ offers: 0, token: TOKEN });
});
afterAll(async () => {
  await sim.close();
  tmp.remove();
});

/** Fresh inventory of n offers and default server behaviour for each test. */
function reset(n: number, seed = 7): void {
  resetSimulator(sim, n, seed);
}

function config(extra: Record<string, unknown> = {}): string {
  return simulatorConfig(tmp, sim, extra);
}

function read(
  cfg: string,
  catalog = CATALOG_FULL,
  state?: unknown,
  env?: Record<string, string>,
): Promise<CliRun> {
  const args = ['read', '--config', cfg, '--catalog', catalog];
  if (state !== undefined) args.push('--state', tmp.write(`state-${Math.random()}.json`, state));
  return runCli(args, env);
}

const ids = (run: CliRun) => run.records.map((r) => r.record.data.id as string);
const sorted = (xs: string[]) => [...xs].sort();
const noToken = (run: CliRun) => {
  expect(run.stdout).not.toContain(TOKEN);
  expect(run.stderr).not.toContain(TOKEN);
};

describe('spec and discover', () => {
  it('prints a plain spec with the token marked secret', async () => {
    const run = await runCli(['spec']);
    expect(run.code).toBe(0);
    const spec = run.messages[0].spec;
    const props = spec.connectionSpecification.properties;
    expect(props.api_token.airbyte_secret).toBe(true);
    expect(Object.keys(props).sort()).toEqual(
      [
        'api_token',
        'api_url',
        'concurrency',
        'lookback_days',
        'max_retries',
        'offer_types',
        'page_size',
        'request_timeout_seconds',
        'search',
        'start_date',
        'tenant',
      ].sort(),
    );
    expect(JSON.stringify(spec)).not.toMatch(/faros/i);
    // The acceptance tests warn about a date-time field without a pattern.
    expect(props.start_date).toMatchObject({ format: 'date-time', pattern: expect.any(String) });
    const pattern = new RegExp(props.start_date.pattern);
    for (const ok of [...props.start_date.examples, '2024-01-01T00:00:00.123+02:00']) {
      expect(pattern.test(ok)).toBe(true);
    }
    expect(pattern.test('2024-01-01')).toBe(false);
  });

  it('discovers the offers stream without Faros columns, even on the Airbyte platform', async () => {
    const run = await runCli(['discover', '--config', config()], { WORKER_JOB_ID: '42' });
    expect(run.code).toBe(0);
    const [stream] = run.messages[0].catalog.streams;
    expect(stream).toMatchObject({
      name: 'offers',
      supported_sync_modes: ['full_refresh', 'incremental'],
      source_defined_cursor: true,
      default_cursor_field: ['launchDate'],
      source_defined_primary_key: [['id']],
      is_resumable: true,
    });
    expect(Object.keys(stream.json_schema.properties)).not.toContain('__faros_data');
    expect(JSON.stringify(stream)).not.toMatch(/faros/i);
    expect(stream.json_schema.properties.launchDate).toMatchObject({
      format: 'date-time',
      airbyte_type: 'timestamp_with_timezone',
    });
  });

  it('refuses an invalid config on discover with a config_error', async () => {
    const run = await runCli(['discover', '--config', config({ page_size: 500 })]);
    expect(run.code).toBe(1);
    expect(errors(run)[0]).toMatchObject({
      failure_type: 'config_error',
      message: expect.stringContaining('page_size'),
    });
  });
});

describe('check', () => {
  beforeEach(() => reset(12));

  it('succeeds with one real request', async () => {
    const run = await runCli(['check', '--config', config()]);
    expect(run.messages[0].connectionStatus).toEqual({
      status: 'SUCCEEDED',
      message: expect.stringContaining('12 offers visible'),
    });
    expect(sim.requests).toHaveLength(1);
  });

  it.each([
    [{ api_token: 'wrong-token' }, 'rejected the API token'],
    [{ api_token: 'sim-forbidden' }, 'not allowed to read offers'],
    [{ page_size: 500 }, 'page_size must be <= 100'],
    [{ tenant: 'acme.evil.com', api_url: undefined }, 'tenant must be one DNS label'],
    [{ start_date: 'last week' }, 'start_date must be a date-time'],
    [{ api_token: undefined }, 'api_token is required'],
  ])('fails %j with a message naming the cause', async (extra, expected) => {
    const run = await runCli(['check', '--config', config(extra)]);
    expect(run.code).toBe(0);
    expect(run.messages[0].connectionStatus).toEqual({
      status: 'FAILED',
      message: expect.stringContaining(expected),
    });
    noToken(run);
  });

  it('makes no request when the config is invalid', async () => {
    await runCli(['check', '--config', config({ tenant: 'a/b', page_size: 0 })]);
    expect(sim.requests).toHaveLength(0);
  });

  it('explains an unreachable host', async () => {
    const run = await runCli([
      'check',
      '--config',
      config({ api_url: 'http://127.0.0.1:9', max_retries: 0 }),
    ]);
    expect(run.messages[0].connectionStatus.message).toContain('Cannot connect to 127.0.0.1:9');
  });

  it('explains a wrong base URL', async () => {
    const run = await runCli(['check', '--config', config({ api_url: `${sim.url}/wrong` })]);
    expect(run.messages[0].connectionStatus.message).toContain('check tenant or api_url');
  });
});

describe('read: full refresh', () => {
  it.each([
    [0, 100],
    [1, 100],
    [30, 10], // exactly-full last page
    [31, 10],
    [257, 100],
  ])('emits exactly the %i offers (page_size %i) once each, then state', async (n, pageSize) => {
    reset(n);
    const run = await read(config({ page_size: pageSize }));
    expect(run.code).toBe(0);
    expect(sorted(ids(run))).toEqual(sorted(sim.offers().map((o) => o.id)));
    // Records are the API's objects, unchanged.
    const byId = new Map(sim.offers().map((o) => [o.id, o]));
    for (const r of run.records) expect(r.record.data).toEqual(byId.get(r.record.data.id));
    expect(statuses(run)).toEqual(['STARTED', 'RUNNING', 'COMPLETE']);
    const estimate = run.traces.find((t) => t.trace.type === 'ESTIMATE');
    expect(estimate?.trace.estimate).toEqual({ name: 'offers', type: 'STREAM', row_estimate: n });
    expect(run.states).toHaveLength(1);
    expect(run.states[0].state.sourceStats.recordCount).toBe(n);
    const newest = Math.max(...sim.offers().map((o) => Date.parse(o.launchDate)));
    expect(run.states[0].state.stream.stream_state).toEqual(
      n ? { launchDate: new Date(newest).toISOString() } : {},
    );
    // No page past the end was requested.
    expect(sim.requests.length).toBe(Math.max(1, Math.ceil(n / pageSize)));
    // The state comes after the last record.
    const lastRecord = run.messages.map((m) => m.type).lastIndexOf('RECORD');
    expect(run.messages.findIndex((m) => m.type === 'STATE')).toBeGreaterThan(lastRecord);
  });

  it("keeps `concurrency` requests in flight and emits records in the server's page order", async () => {
    reset(1000);
    sim.setLatency(30);
    const run = await read(config({ concurrency: 3, page_size: 50 }));
    expect(run.code).toBe(0);
    expect(sim.maxInFlight).toBe(3);
    expect(ids(run)).toEqual(sim.offers().map((o) => o.id));
  });

  it('stays plain Airbyte protocol on the Airbyte platform (WORKER_JOB_ID set)', async () => {
    reset(20);
    const run = await read(config(), CATALOG_FULL, undefined, { WORKER_JOB_ID: '1' });
    expect(run.code).toBe(0);
    expect(run.records).toHaveLength(20);
    expect(run.stdout).not.toMatch(/faros|__noop__|sourceIdentity|redactedConfig/);
  });

  it('stops with one line, not a stack trace, when the reader closes stdout', async () => {
    reset(3000);
    const { code, stderr } = await runMainForTest(
      ['read', '--config', config(), '--catalog', CATALOG_FULL],
      { onStart: (child) => child.stdout?.once('data', () => child.stdout?.destroy()) }, // `| head -1`
    );
    expect(code).toBe(1);
    expect(stderr.trim()).toBe('stopped: stdout was closed by its reader (EPIPE)');
  });

  it('sends the filters', async () => {
    reset(200);
    const run = await read(config({ offer_types: ['MultiEvent'], search: 'spin' }));
    expect(sim.requests[0]).toMatchObject({ offerType: 'MultiEvent', search: 'spin' });
    const expected = sim
      .offers()
      .filter((o) => o.offerType === 'MultiEvent' && /spin/i.test(o.name));
    expect(sorted(ids(run))).toEqual(sorted(expected.map((o) => o.id)));
  });

  it('applies start_date', async () => {
    reset(200);
    const start = '2021-01-01T00:00:00Z';
    const run = await read(config({ start_date: start }));
    const expected = sim.offers().filter((o) => Date.parse(o.launchDate) >= Date.parse(start));
    expect(sorted(ids(run))).toEqual(sorted(expected.map((o) => o.id)));
  });

  it('emits every offer that stayed when offers are deleted and added mid-scan, none twice', async () => {
    reset(500);
    const before = sim.offers().map((o) => o.id);
    const extra = generateOffers(30, 99, { idPrefix: 'mid-' });
    sim.onRequest((_entry, served) => {
      if (served === 2) sim.remove(before.slice(0, 40)); // shifts unread offers onto read pages
      if (served === 3) sim.add(extra.splice(0, 10));
    });
    const run = await read(config({ page_size: 50, concurrency: 2 }));
    expect(run.code).toBe(0);
    const got = ids(run);
    expect(new Set(got).size).toBe(got.length);
    expect(got).toEqual(expect.arrayContaining(before.slice(40)));
    expect(run.logs.join('\n')).toContain('reading it again');
  });

  it('fails with a TRACE ERROR for an unknown stream', async () => {
    reset(5);
    const run = await read(
      config(),
      path.join(ROOT, 'test_files', 'configured_catalog_unknown_stream.json'),
    );
    expect(run.code).toBe(1);
    expect(errors(run)[0]).toMatchObject({
      failure_type: 'config_error',
      message: expect.stringContaining('"campaigns"'),
    });
    expect(run.records).toHaveLength(0);
  });

  it('refuses a catalog that lists the stream twice', async () => {
    reset(5);
    const twice = JSON.parse(fs.readFileSync(CATALOG_FULL, 'utf8'));
    twice.streams.push(twice.streams[0]);
    const run = await read(config(), tmp.write('twice.json', twice));
    expect(errors(run)[0]).toMatchObject({
      failure_type: 'config_error',
      message: 'catalog: streams[1] repeats the "offers" stream',
    });
    expect(run.records).toHaveLength(0);
  });

  it.each([
    [{ page_size: 500 }, 'page_size'],
    [{ tenant: 'x.y', api_url: undefined }, 'tenant'],
    [{ start_date: '2024-13-45' }, 'start_date'],
  ])('refuses config %j with a config_error naming the field', async (extra, field) => {
    reset(5);
    const run = await read(config(extra));
    expect(run.code).toBe(1);
    expect(errors(run)[0]).toMatchObject({
      failure_type: 'config_error',
      message: expect.stringContaining(field),
    });
    expect(sim.requests).toHaveLength(0);
  });

  it('names a missing or broken file', async () => {
    const run = await runCli([
      'read',
      '--config',
      '/nonexistent/config.json',
      '--catalog',
      CATALOG_FULL,
    ]);
    expect(errors(run)[0]).toMatchObject({
      failure_type: 'config_error',
      message: expect.stringContaining('/nonexistent/config.json'),
    });
    const broken = tmp.write('broken.json', `{"api_token": "${TOKEN}", `);
    const run2 = await runCli(['read', '--config', broken, '--catalog', CATALOG_FULL]);
    expect(errors(run2)[0].message).toContain('is not valid JSON');
    noToken(run2);
  });
});

describe('read: incremental', () => {
  const DAY = 86_400_000;
  const state = (launchDate: string) => [
    {
      type: 'STREAM',
      stream: { stream_descriptor: { name: 'offers' }, stream_state: { launchDate } },
    },
  ];

  it('emits offers at or after cursor minus lookback, asks newest-first and stops early', async () => {
    reset(1000);
    const cursor = '2025-06-01T00:00:00.000Z';
    const run = await read(config({ lookback_days: 10 }), CATALOG_INCREMENTAL, state(cursor));
    expect(run.code).toBe(0);
    const from = Date.parse(cursor) - 10 * DAY;
    const expected = sim.offers().filter((o) => Date.parse(o.launchDate) >= from);
    expect(expected.length).toBeGreaterThan(0);
    expect(sorted(ids(run))).toEqual(sorted(expected.map((o) => o.id)));
    expect(sim.requests.every((r) => r.orderby === 'LaunchDate' && r.orderAsc === false)).toBe(
      true,
    );
    expect(sim.requests.length).toBeLessThanOrEqual(Math.ceil(expected.length / 100) + 1);
    expect(run.states[0].state.sourceStats.recordCount).toBe(expected.length);
  });

  it('accepts the legacy state object', async () => {
    reset(300);
    const run = await read(config({ lookback_days: 0 }), CATALOG_INCREMENTAL, {
      offers: { launchDate: '2025-01-01T00:00:00Z' },
    });
    const expected = sim
      .offers()
      .filter((o) => Date.parse(o.launchDate) >= Date.parse('2025-01-01T00:00:00Z'));
    expect(sorted(ids(run))).toEqual(sorted(expected.map((o) => o.id)));
  });

  it('rejects a state with a bad cursor as a config_error naming it', async () => {
    reset(3);
    const run = await read(config(), CATALOG_INCREMENTAL, state('soon'));
    expect(errors(run)[0]).toMatchObject({
      failure_type: 'config_error',
      message: expect.stringContaining('offers.launchDate'),
    });
  });

  it('does not let future-scheduled offers push the cursor past the sync start', async () => {
    reset(100);
    const future = generateOffers(3, 5, {
      from: new Date(Date.now() + 30 * DAY),
      to: new Date(Date.now() + 60 * DAY),
      idPrefix: 'future-',
    });
    sim.add(future);
    const before = Date.now();
    const run = await read(config(), CATALOG_INCREMENTAL, state('2025-12-01T00:00:00Z'));
    const cursor = Date.parse(run.states[0].state.stream.stream_state.launchDate);
    expect(cursor).toBeGreaterThanOrEqual(before - 1000);
    expect(cursor).toBeLessThanOrEqual(Date.now());
    expect(ids(run)).toEqual(expect.arrayContaining(future.map((o) => o.id)));

    // An offer created after that sync, launching before the scheduled ones, is caught next
    // time (had the cursor moved to the scheduled launch dates, it would be missed).
    const late = generateOffers(1, 6, {
      from: new Date(cursor + DAY),
      to: new Date(cursor + 2 * DAY),
      idPrefix: 'late-',
    });
    sim.add(late);
    const next = await read(config({ lookback_days: 0 }), CATALOG_INCREMENTAL, [
      run.states[0].state,
    ]);
    expect(ids(next)).toContain(late[0].id);
  });

  it.each(['ignore', 'reject'] as const)(
    'stays complete when the server %ss the sort',
    async (mode) => {
      reset(600);
      sim.setSortMode(mode);
      const cursor = '2025-01-01T00:00:00Z';
      const run = await read(config({ lookback_days: 0 }), CATALOG_INCREMENTAL, state(cursor));
      expect(run.code).toBe(0);
      const expected = sim.offers().filter((o) => Date.parse(o.launchDate) >= Date.parse(cursor));
      expect(sorted(ids(run))).toEqual(sorted(expected.map((o) => o.id)));
      expect(run.logs.join('\n')).toMatch(
        mode === 'ignore' ? /ignored orderby/ : /rejected orderby/,
      );
    },
  );

  it('moves the state only after the scan finished', async () => {
    reset(500);
    sim.injectFault({ kind: 'status', status: 401, page: 1 });
    const run = await read(
      config({ lookback_days: 0 }),
      CATALOG_INCREMENTAL,
      state('2016-06-01T00:00:00Z'),
    );
    expect(run.code).toBe(1);
    expect(run.records.length).toBeGreaterThan(0);
    expect(run.states).toHaveLength(0);
    expect(statuses(run)).toEqual(['STARTED', 'RUNNING', 'INCOMPLETE']);
    expect(errors(run)[0]).toMatchObject({
      failure_type: 'config_error',
      message: expect.stringContaining('page 1'),
    });
  });
});

describe('read: failures and retries', () => {
  beforeEach(() => reset(250));

  it.each([
    [{ kind: 'status', status: 503, times: 2 }],
    [{ kind: 'status', status: 500, page: 1, messages: ['database is busy'] }],
    [{ kind: 'reset', page: 2 }],
    [{ kind: 'truncated', page: 1 }],
    [{ kind: 'not-json', page: 0 }],
    [{ kind: 'unsuccessful', page: 2, messages: ['try again'] }],
  ])('retries %j and still emits every offer once', async (fault) => {
    sim.injectFault(fault as Parameters<GoKartSimulator['injectFault']>[0]);
    const run = await read(config());
    expect(run.code).toBe(0);
    expect(sorted(ids(run))).toEqual(sorted(sim.offers().map((o) => o.id)));
    expect(run.logs.some((l) => l.startsWith('Retrying page'))).toBe(true);
  });

  it('retries a timed-out request', async () => {
    sim.injectFault({ kind: 'slow', delayMs: 2500, page: 0 });
    const run = await read(config({ request_timeout_seconds: 1 }));
    expect(run.code).toBe(0);
    expect(run.records).toHaveLength(250);
    expect(run.logs.join('\n')).toContain('timed out');
  });

  it('honours Retry-After on 429, says RATE_LIMITED, and lowers concurrency', async () => {
    sim.injectFault({ kind: 'status', status: 429, retryAfter: '1', page: 1 });
    const started = Date.now();
    const run = await read(config({ page_size: 50 }));
    expect(run.code).toBe(0);
    expect(run.records).toHaveLength(250);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    const limited = run.traces.find((t) => t.trace.stream_status?.reasons);
    expect(limited?.trace.stream_status).toMatchObject({
      status: 'RUNNING',
      reasons: [{ type: 'RATE_LIMITED', rate_limited: { quota_reset: expect.any(Number) } }],
    });
    expect(run.logs.join('\n')).toContain('concurrency lowered to 2');
    expect(statuses(run).at(-1)).toBe('COMPLETE');
  });

  it('says RATE_LIMITED without a quota_reset when the 429 gives no Retry-After', async () => {
    sim.injectFault({ kind: 'status', status: 429, page: 0 });
    const run = await read(config());
    expect(run.code).toBe(0);
    const limited = run.traces.find((t) => t.trace.stream_status?.reasons);
    expect(limited?.trace.stream_status.reasons).toEqual([
      { type: 'RATE_LIMITED', rate_limited: {} },
    ]);
    expect(run.records).toHaveLength(250);
  });

  it('gives up after max_retries with a transient_error naming status, page and API message', async () => {
    sim.injectFault({
      kind: 'status',
      status: 502,
      page: 1,
      times: 10,
      messages: ['upstream down'],
    });
    const run = await read(config({ max_retries: 2 }));
    expect(run.code).toBe(1);
    expect(errors(run)[0]).toMatchObject({
      failure_type: 'transient_error',
      stream_descriptor: { name: 'offers' },
    });
    expect(errors(run)[0].message).toMatch(
      /page 1 failed after 3 attempts: HTTP 502 \(API said: upstream down\)/,
    );
    expect(run.states).toHaveLength(0);
    expect(statuses(run).at(-1)).toBe('INCOMPLETE');
  });

  it.each([
    [400, 'system_error', 'refused the request for page 0'],
    [401, 'config_error', 'rejected the API token'],
    [403, 'config_error', 'not allowed to read offers'],
    [404, 'config_error', 'check tenant or api_url'],
  ])('does not retry HTTP %i (%s)', async (status, failureType, text) => {
    sim.injectFault({ kind: 'status', status, page: 0, times: 5 });
    const run = await read(config());
    expect(run.code).toBe(1);
    expect(sim.requests).toHaveLength(1);
    expect(errors(run)[0]).toMatchObject({
      failure_type: failureType,
      message: expect.stringContaining(text),
    });
  });

  it('never prints the token, even when the server echoes it', async () => {
    sim.injectFault({
      kind: 'status',
      status: 500,
      times: 10,
      messages: [`bad header ApiToken ${TOKEN}`],
    });
    const run = await read(config({ max_retries: 1 }));
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('bad header ApiToken **********');
    noToken(run);
  });
});
