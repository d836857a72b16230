import fs from 'fs';
import { Fault, generateOffers, GoKartSimulator } from '../tools/simulator';
import { CATALOG_FULL, CliRun, errors, runCli, simulatorConfig, TempDir } from './cli-helpers';

// End to end: bin/main against a simulator that misbehaves the way a broken server or proxy
// can: bodies that never end, are huge, expand to a gigabyte, or drip one byte at a time,
// and a Retry-After of hours. Each run must end quickly, small, and say why.

const TOKEN = 'sim-token-hostile-3c81';
const MIB = 1024 * 1024;
let sim: GoKartSimulator;
const tmp = new TempDir();
/** Preloaded into bin/main: writes the peak RSS (KiB) to $RSS_OUT at exit, as the bench's probe. */
const RSS_PROBE = tmp.write(
  'rss-probe.js',
  "process.on('exit', () => require('fs').writeFileSync(process.env.RSS_OUT, String(process.resourceUsage().maxRSS)));",
);

beforeAll(async () => {
  sim = await GoKartSimulator.start({ offers: 0, token: TOKEN });
  sim.add(generateOffers(250, 11));
});
afterAll(async () => {
  await sim.close();
  tmp.remove();
});
beforeEach(() => {
  sim.clearFaults();
  sim.resetStats();
});

function config(extra: Record<string, unknown> = {}): string {
  return simulatorConfig(tmp, sim, extra);
}

interface Timed {
  run: CliRun;
  seconds: number;
  peakRssMiB: number;
}

/** bin/main with its wall time and peak RSS. */
async function timed(args: string[]): Promise<Timed> {
  const rssFile = `${tmp.dir}/rss-${Math.random()}`;
  const started = Date.now();
  const run = await runCli(args, { NODE_OPTIONS: `--require ${RSS_PROBE}`, RSS_OUT: rssFile });
  const seconds = (Date.now() - started) / 1000;
  const peakRssMiB = Number(fs.readFileSync(rssFile, 'utf8')) / 1024;
  return { run, seconds, peakRssMiB };
}

const read = (cfg = config()) => timed(['read', '--config', cfg, '--catalog', CATALOG_FULL]);
const check = (cfg = config()) => timed(['check', '--config', cfg]);
const report = (what: string, t: Timed) =>
  process.stderr.write(
    `${what}: ${t.seconds.toFixed(1)} s, peak RSS ${t.peakRssMiB.toFixed(0)} MiB\n`,
  );

describe('response size limit', () => {
  it.each<[string, Fault]>([
    ['an endless body', { kind: 'endless' }],
    ['a 600 MB body', { kind: 'huge', bytes: 600_000_000 }],
    ['a gzip body that expands to 1 GB', { kind: 'huge', bytes: 1_000_000_000, gzip: true }],
    ['an endless gzip body', { kind: 'endless', gzip: true }],
  ])(
    'stops reading %s at 8 MiB, does not retry it, and stays small',
    async (what, fault) => {
      sim.injectFault({ ...fault, page: 0, times: 10 });
      const t = await read();
      report(`read against ${what}`, t);
      expect(t.run.code).toBe(1);
      expect(errors(t.run)).toHaveLength(1);
      expect(errors(t.run)[0]).toMatchObject({ failure_type: 'system_error' });
      expect(errors(t.run)[0].message).toMatch(
        /response for page 0 exceeded the 8 MiB size limit \(more than 8 MiB (received|after decompression)\)/,
      );
      expect(sim.requests).toHaveLength(1);
      expect(t.run.states).toHaveLength(0);
      expect(t.peakRssMiB).toBeLessThan(256);
    },
    120_000,
  );

  it('still reads a large but legal page (3 MiB of whitespace around 100 offers, gzipped)', async () => {
    sim.injectFault({ kind: 'huge', bytes: 3 * MIB, gzip: true, times: 3 });
    const t = await read();
    expect(t.run.code).toBe(0);
    expect(t.run.records).toHaveLength(250);
  });
});

describe('request timeout bounds the whole attempt', () => {
  it('fails a read against a body that drips one byte every 0.5 s after the timeout', async () => {
    sim.injectFault({ kind: 'drip', delayMs: 500, times: 100 });
    const t = await read(config({ request_timeout_seconds: 2, max_retries: 1 }));
    report('read against a dripping body', t);
    expect(t.run.code).toBe(1);
    expect(errors(t.run)[0]).toMatchObject({
      failure_type: 'transient_error',
      message: expect.stringContaining(
        'page 0 failed after 2 attempts: the request timed out (no complete answer within 2 s)',
      ),
    });
    expect(t.seconds).toBeLessThan(20);
  }, 60_000);

  it('answers check within 30 s even when every attempt may take 10 minutes', async () => {
    sim.injectFault({ kind: 'drip', delayMs: 500, times: 100 });
    const t = await check(config({ request_timeout_seconds: 600 }));
    report('check against a dripping body', t);
    expect(t.run.code).toBe(0);
    expect(t.run.messages[0].connectionStatus).toEqual({
      status: 'FAILED',
      message: `No answer from ${sim.url} within 30 s`,
    });
    expect(t.seconds).toBeLessThan(40);
  }, 60_000);
});

describe('Retry-After beyond the 5 minute budget', () => {
  const tenHours = { kind: 'status', status: 429, retryAfter: '36000', times: 10 } as const;

  it('fails a read at once with a transient_error that says when GoKart allows the next request', async () => {
    sim.injectFault({ ...tenHours, messages: ['quota exhausted'] });
    const before = Date.now();
    const t = await read();
    report('read against Retry-After: 36000', t);
    expect(t.run.code).toBe(1);
    expect(sim.requests).toHaveLength(1);
    const error = errors(t.run)[0];
    expect(error.failure_type).toBe('transient_error');
    expect(error.message).toContain(
      'GoKart is rate limiting (HTTP 429 (API said: quota exhausted)) and allows the next request at ',
    );
    expect(error.message).toContain('(in 10 hours), beyond the 5 minutes the connector waits');
    const at = Date.parse(/next request at (\S+)/.exec(error.message)?.[1] ?? '');
    expect(at).toBeGreaterThanOrEqual(before + 36_000_000 - 1000);
    expect(at).toBeLessThanOrEqual(Date.now() + 36_000_000);
    expect(t.seconds).toBeLessThan(20);
  }, 60_000);

  it('fails check at once too', async () => {
    sim.injectFault(tenHours);
    const t = await check();
    report('check against Retry-After: 36000', t);
    expect(t.run.messages[0].connectionStatus.status).toBe('FAILED');
    expect(t.run.messages[0].connectionStatus.message).toMatch(
      /^GoKart is rate limiting \(HTTP 429 .*\) and allows the next request at \S+ \(in 10 hours\)/,
    );
    expect(t.seconds).toBeLessThan(20);
  }, 60_000);
});
