/**
 * Secrets and terminal safety end to end: bin/main (read, check, sync) as a
 * child process against the simulator, with a token that JSON must escape, a
 * server that echoes it, hostile server text, configs from pipes, and signals.
 */
import { queryDb } from './db-helpers';
import { ChildProcess } from 'child_process';
import { runChild, RunResult } from '../tools/run-cli';
import { GoKartSimulator } from '../tools/simulator';
import {
  CATALOG_FULL,
  CliRun,
  errors,
  MAIN,
  Message,
  runCli,
  runMainForTest,
  simulatorConfig,
  statuses,
  TempDir,
} from './cli-helpers';

// `"` and `\` are escaped once the token is inside JSON, which is where the old scrubber missed it.
const TOKEN = 'tok"en\\e2e-5f2b9c';
/** Every way the token could be printed: as is, and JSON-escaped once and twice. */
const FORMS = [TOKEN, JSON.stringify(TOKEN).slice(1, -1), JSON.stringify(JSON.stringify(TOKEN))];
// Under the 8 MiB response limit, so the connector reads the text and must cut it itself.
const HUGE = 4_000_000;

let sim: GoKartSimulator;
const tmp = new TempDir();
const children: ChildProcess[] = [];

beforeAll(async () => {
  sim = await GoKartSimulator.start({ offers: 250, token: TOKEN });
});
beforeEach(() => {
  sim.clearFaults();
  sim.setLatency(0);
  sim.resetStats();
});
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});
afterAll(async () => {
  await sim.close();
  tmp.remove();
});

let files = 0;
function config(extra: Record<string, unknown> = {}): string {
  return simulatorConfig(tmp, sim, extra);
}
const db = () => `${tmp.dir}/db-${++files}.duckdb`;

function expectNoToken(...texts: string[]): void {
  for (const text of texts) for (const form of FORMS) expect(text).not.toContain(form);
}

/** The server answers every request with HTTP 500 and these messages. */
function serverSays(messages: string[]): void {
  sim.injectFault({ kind: 'status', status: 500, times: 100, messages, echoToken: true });
}

interface Child {
  child: ChildProcess;
  done: Promise<RunResult>;
}

/** bin/main through bash (for pipes and <(…)), or directly; stdout and stderr collected. */
function start(args: string[], shell?: string): Child {
  let child: ChildProcess | undefined;
  const onStart = (c: ChildProcess) => children.push((child = c));
  const done = shell
    ? runChild('bash', ['-c', shell], { onStart })
    : runMainForTest(args, { onStart });
  if (!child) throw new Error('the child was not started');
  return { child, done };
}

const parse = (stdout: string): Message[] =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

function syncRuns(file: string): Promise<Record<string, unknown>[]> {
  return queryDb(
    file,
    'SELECT outcome, records::INTEGER AS records, error FROM _sync_runs ORDER BY run_id',
  );
}

describe('the token never appears in any output', () => {
  const echoes = [
    'bad header ApiToken {token}',
    'request was {"headers":{"Authorization":"ApiToken {token}"}}',
  ];

  it('read and check: server messages echoing a token with " and \\ are scrubbed', async () => {
    serverSays(echoes);
    const read = await runCli([
      'read',
      '--config',
      config({ max_retries: 1 }),
      '--catalog',
      CATALOG_FULL,
    ]);
    expect(read.code).toBe(1);
    expect(errors(read)[0].message).toContain('API said: bad header ApiToken **********');
    expect(read.logs.join('\n')).toContain('ApiToken **********'); // the retry warning
    const check = await runCli(['check', '--config', config({ max_retries: 0 })]);
    expect(check.messages[0].connectionStatus.message).toContain('ApiToken **********');
    for (const run of [read, check]) expectNoToken(run.stdout, run.stderr);
  });

  it('sync: stderr and _sync_runs are scrubbed, config errors included', async () => {
    serverSays(echoes);
    const file = db();
    const failed = await start(['sync', '--config', config({ max_retries: 1 }), '--db', file]).done;
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('ApiToken **********');
    const runs = await syncRuns(file);
    expect(runs).toHaveLength(1);
    expect(String(runs[0].error)).toContain('ApiToken **********');

    // The token pasted into tenant too: the error quotes tenant's value.
    const typo = await start(['sync', '--config', config({ tenant: TOKEN, api_url: undefined })])
      .done;
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(
      /^sync failed: Invalid configuration: tenant must be one DNS label/,
    );
    expectNoToken(failed.stdout, failed.stderr, JSON.stringify(runs), typo.stderr);
  });

  it('refuses a token with a line break before making any request', async () => {
    const run = await runCli(['check', '--config', config({ api_token: `${TOKEN}\n` })]);
    expect(run.messages[0].connectionStatus).toMatchObject({
      status: 'FAILED',
      message: expect.stringContaining('api_token contains a line break'),
    });
    expect(sim.requests).toHaveLength(0);
  });
});

describe('server text reaches the terminal cleaned and capped', () => {
  const hostile = () => ['\x1b[2J\x1b[H\x1b]0;owned\x07screen cleared ' + 'x'.repeat(HUGE)];

  it('read: no escape sequence and no 4 MB line', async () => {
    serverSays(hostile());
    const run = await runCli([
      'read',
      '--config',
      config({ max_retries: 1 }),
      '--catalog',
      CATALOG_FULL,
    ]);
    expect(run.code).toBe(1);
    const message = errors(run)[0].message as string;
    expect(message).toMatch(/API said: screen cleared x+… \(\d+ more characters cut\)/);
    for (const line of run.stdout.split('\n')) expect(line.length).toBeLessThan(5000);
    expect(run.stdout).not.toMatch(/\\u001b|\\u0007/);
    expect(run.stderr).not.toContain('\x1b');
  });

  it('sync: stderr and _sync_runs.error have no escape sequence and a bounded length', async () => {
    serverSays(hostile());
    const file = db();
    const run = await start(['sync', '--config', config({ max_retries: 1 }), '--db', file]).done;
    expect(run.code).toBe(1);
    expect(run.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f]/); // eslint-disable-line no-control-regex
    expect(run.stderr).toContain('more characters cut');
    expect(run.stderr.length).toBeLessThan(10_000);
    const [{ error }] = await syncRuns(file);
    expect(String(error)).toMatch(/screen cleared x+… \(\d+ more characters cut\)/);
    expect(String(error).length).toBeLessThan(5000);
  });
});

describe('--config from a pipe', () => {
  const main = `${JSON.stringify(process.execPath)} ${JSON.stringify(MAIN)}`;

  it.each([
    [
      'cat config | check --config /dev/stdin',
      (c: string) => `cat ${c} | ${main} check --config /dev/stdin`,
    ],
    ['check --config <(cat config)', (c: string) => `${main} check --config <(cat ${c})`],
  ])('%s', async (_name, command) => {
    const run = await start([], command(config())).done;
    expect(run.stderr).toBe('');
    expect(parse(run.stdout)[0].connectionStatus).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('read and sync take the config from a pipe', async () => {
    const read = await start(
      [],
      `cat ${config()} | ${main} read --config /dev/stdin --catalog ${CATALOG_FULL}`,
    ).done;
    expect(read.code).toBe(0);
    expect(parse(read.stdout).filter((m) => m.type === 'RECORD')).toHaveLength(250);
    const sync = await start([], `${main} sync --config <(cat ${config()}) --db ${db()}`).done;
    expect(sync.stderr).toBe('');
    expect(sync.stdout).toMatch(/^Synced 250 offers/);
  });
});

describe('SIGINT and SIGTERM', () => {
  /** Starts a slow read or sync and sends the signal once a few pages were served. */
  async function interrupt(args: string[], signal: NodeJS.Signals) {
    sim.setLatency(200);
    const proc = start(args);
    await new Promise<void>((resolve) =>
      sim.onRequest((_entry, served) => {
        if (served === 3) resolve();
      }),
    );
    const sent = Date.now();
    proc.child.kill(signal);
    const result = await proc.done;
    sim.onRequest(undefined);
    expect(Date.now() - sent).toBeLessThan(10_000); // not the ~50 s the remaining pages take
    return result;
  }
  const slow = () => config({ page_size: 1, concurrency: 1 });

  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)(
    'read: %s ends with INCOMPLETE, a "cancelled" TRACE ERROR and exit %i',
    async (signal, code) => {
      const result = await interrupt(
        ['read', '--config', slow(), '--catalog', CATALOG_FULL],
        signal,
      );
      expect(result.code).toBe(code);
      const run = { traces: parse(result.stdout).filter((m) => m.type === 'TRACE') } as CliRun;
      expect(statuses(run).at(-1)).toBe('INCOMPLETE');
      expect(errors(run)).toEqual([
        expect.objectContaining({
          failure_type: 'transient_error',
          message: expect.stringContaining(`cancelled (${signal})`),
        }),
      ]);
      expect(parse(result.stdout).filter((m) => m.type === 'STATE')).toHaveLength(0);
    },
  );

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)(
    'sync: %s says nothing was saved and logs the run as interrupted',
    async (signal, code) => {
      const file = db();
      const result = await interrupt(['sync', '--config', slow(), '--db', file], signal);
      expect(result.code).toBe(code);
      expect(result.stderr).toMatch(
        new RegExp(
          `^sync interrupted: stopped by ${signal} after \\d+ offers were read; nothing was saved`,
        ),
      );
      const runs = await syncRuns(file);
      expect(runs).toEqual([
        {
          outcome: 'interrupted',
          records: expect.any(Number),
          error: expect.stringContaining('nothing was saved'),
        },
      ]);
    },
  );
});
