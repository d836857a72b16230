import fs from 'fs';
import http from 'http';
import os from 'os';
import path from 'path';

import { MAIN, ROOT, runChild, runMain, SimulatorProcess, startSimulatorProcess } from '../run-cli';
import { OFFERS_PATH } from '../simulator/api';

/**
 * `npm run bench`: the connector against the practical limit, on the simulator
 * running in a process of its own. See bench/results.md for the last results.
 */
const RSS_PROBE = path.join(__dirname, 'rss-probe.js');
const REPEATS = Number(process.env.BENCH_REPEATS) || 3;
/** Section 4's read / first-sync pairs: its ratios sit near their targets, so five, not three. */
const SYNC_REPEATS = Number(process.env.BENCH_REPEATS) || 5;
const TOKEN = 'bench-token';

interface Measure {
  label: string;
  ms: number;
  records: number;
  rssMiB: number;
  requests?: number;
}

let probes = 0;
/** Runs a node program with stdout consumed as fast as possible; counts record lines. */
async function measure(label: string, args: string[], recordMarker: string): Promise<Measure> {
  const rssFile = path.join(tmp, `rss-${++probes}`);
  // Count markers in the raw bytes: decoding 30 MB of JSON here would steal CPU from the
  // processes being measured on this 2-core machine.
  const marker = Buffer.from(recordMarker, 'latin1');
  let records = 0;
  let tail: Buffer = Buffer.alloc(0);
  const count = (chunk: Buffer): void => {
    const bytes = tail.length ? Buffer.concat([tail, chunk]) : chunk;
    for (let at = bytes.indexOf(marker); at >= 0; at = bytes.indexOf(marker, at + marker.length))
      records++;
    tail = bytes.subarray(bytes.length - (marker.length - 1));
  };
  const started = process.hrtime.bigint();
  const [main, ...rest] = args;
  const run = await runMain(rest, {
    main,
    nodeArgs: ['-r', RSS_PROBE],
    env: { BENCH_RSS_FILE: rssFile },
    stdout: count,
    stderr: 'inherit',
  });
  if (run.code !== 0) throw new Error(`${label} exited with ${run.code ?? run.signal}`);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const rssMiB = Number(fs.readFileSync(rssFile, 'utf8').trim()) / 1024;
  return { label, ms, records, rssMiB };
}

/** The last line a measureToFile run wrote, when its output was small (a sync's summary). */
let lastOutput = '';

/**
 * Like measure, but the program's stdout goes straight to a file (a shell redirect, no pipe
 * to this process). `records`: the count when known, else the marker counted in the file
 * afterwards, outside the timing.
 */
async function measureToFile(
  label: string,
  args: string[],
  records: number | string,
): Promise<Measure> {
  const rssFile = path.join(tmp, `rss-${++probes}`);
  const outFile = path.join(tmp, `out-${probes}`);
  const started = process.hrtime.bigint();
  const run = await runChild(
    '/bin/sh',
    ['-c', 'exec "$@" > "$BENCH_OUT"', 'sh', process.execPath, '-r', RSS_PROBE, ...args],
    { env: { BENCH_RSS_FILE: rssFile, BENCH_OUT: outFile }, stderr: 'inherit' },
  );
  if (run.code !== 0) throw new Error(`${label} exited with ${run.code ?? run.signal}`);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const rssMiB = Number(fs.readFileSync(rssFile, 'utf8').trim()) / 1024;
  if (typeof records === 'string') {
    records = fs.readFileSync(outFile, 'latin1').split(records).length - 1;
  } else if (fs.statSync(outFile).size < 65536) {
    lastOutput = fs.readFileSync(outFile, 'utf8').trim().split('\n').pop() ?? '';
  }
  fs.rmSync(outFile);
  return { label, ms, records, rssMiB };
}

async function median(runs: number, run: () => Promise<Measure>): Promise<Measure> {
  const results: Measure[] = [];
  for (let i = 0; i < runs; i++) results.push(await run());
  return medianOf(results);
}

/** The run of median wall time, with the highest peak RSS of them all. */
function medianOf(results: Measure[]): Measure {
  const sorted = [...results].sort((a, b) => a.ms - b.ms);
  const mid = sorted[Math.floor(sorted.length / 2)];
  return { ...mid, rssMiB: Math.max(...results.map((r) => r.rssMiB)) };
}

/** Calls the simulator's control API (GET without a body, POST with one). */
function control(
  sim: SimulatorProcess,
  route: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${sim.url}/_sim/${route}`,
      { method: body === undefined ? 'GET' : 'POST' },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d) => (text += d));
        res.on('end', () => resolve(JSON.parse(text)));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** The simulator for a scenario. */
const simulator = (offers: number, latencyMs: number): Promise<SimulatorProcess> =>
  startSimulatorProcess([
    ...['--offers', String(offers), '--latency-ms', String(latencyMs), '--token', TOKEN],
  ]);

// Not in the --raw children, which are measured.
const tmp = process.argv[2]?.startsWith('--raw')
  ? ''
  : fs.mkdtempSync(path.join(os.tmpdir(), 'gokart-bench-'));
function file(name: string, value: unknown): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, JSON.stringify(value));
  return p;
}
const catalog = (mode: string) =>
  path.join(
    ROOT,
    'test_files',
    mode === 'incremental' ? 'configured_catalog_incremental.json' : 'configured_catalog.json',
  );

function connector(
  label: string,
  url: string,
  extra: Record<string, unknown> = {},
): Promise<Measure> {
  const config = file(`config-${label.replace(/\W/g, '')}.json`, {
    api_token: TOKEN,
    api_url: url,
    ...extra,
  });
  return measure(
    label,
    [MAIN, 'read', '--config', config, '--catalog', catalog('full')],
    '"type":"RECORD"',
  );
}

function raw(label: string, url: string, concurrency: number): Promise<Measure> {
  return measure(label, [__filename, '--raw', url, String(concurrency)], '\n');
}

/** The connector's default `concurrency`, as the spec declares it (src/config.ts applies it). */
function defaultConcurrency(): number {
  const spec = JSON.parse(fs.readFileSync(path.join(ROOT, 'resources', 'spec.json'), 'utf8'));
  return Number(spec.connectionSpecification.properties.concurrency.default);
}

interface ListBody {
  data: { items: { id: string }[] };
}

/** A keep-alive GET of `${url}${route}` with the bench token, parsed as JSON. */
function jsonGetter(url: string): { get<T>(route: string): Promise<T>; close(): void } {
  const agent = new http.Agent({ keepAlive: true });
  const get = <T>(route: string) =>
    new Promise<T>((resolve, reject) => {
      http
        .get(
          `${url}${route}`,
          { agent, headers: { Authorization: `ApiToken ${TOKEN}` } },
          (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (d) => (body += d));
            res.on('end', () => resolve(JSON.parse(body) as T));
          },
        )
        .on('error', reject);
    });
  return { get, close: () => agent.destroy() };
}

/** Requests 0..count-1 with `concurrency` in flight; hands the answers to `use` in order. */
async function inOrder<T>(
  count: number,
  concurrency: number,
  get: (i: number) => Promise<T>,
  use: (answer: T) => Promise<void>,
): Promise<void> {
  const inFlight = new Map<number, Promise<T>>();
  let next = 0;
  for (let i = 0; i < count; i++) {
    while (next < count && inFlight.size < concurrency) inFlight.set(next, get(next++));
    const answer = await inFlight.get(i)!;
    inFlight.delete(i);
    await use(answer);
  }
}

const write = (chunk: string) =>
  new Promise<void>((resolve) =>
    process.stdout.write(chunk) ? resolve() : process.stdout.once('drain', resolve),
  );
const listRoute = (page: number) => `${OFFERS_PATH}?page=${page}&page_size=100`;

/**
 * The baseline: a plain keep-alive fetch loop with `concurrency` requests in
 * flight; it parses each page and writes one JSON line per offer. It is told the
 * page count up front, so it never waits for page 0 first.
 */
async function rawFetch(url: string, concurrency: number): Promise<void> {
  const api = jsonGetter(url);
  await inOrder(
    Number(process.env.RAW_PAGES),
    concurrency,
    (page) => api.get<ListBody>(listRoute(page)),
    (body) => write(body.data.items.map((item) => JSON.stringify(item) + '\n').join('')),
  );
  api.close();
}

/**
 * The details baseline: lists the offers as rawFetch does (RAW_PAGES pages of 100), then
 * fetches each id's detail with `concurrency` in flight, writing one JSON line per detail
 * in list order.
 */
async function rawDetails(url: string, concurrency: number): Promise<void> {
  const api = jsonGetter(url);
  const ids: string[] = [];
  await inOrder(
    Number(process.env.RAW_PAGES),
    concurrency,
    (page) => api.get<ListBody>(listRoute(page)),
    async (body) => void ids.push(...body.data.items.map((item) => item.id)),
  );
  await inOrder(
    ids.length,
    concurrency,
    (i) => api.get<{ data: unknown }>(`${OFFERS_PATH}/${encodeURIComponent(ids[i])}`),
    (body) => write(JSON.stringify(body.data) + '\n'),
  );
  api.close();
}

/** A catalog selecting only `offer_details` (full refresh), or undefined if discover has none. */
async function detailsCatalog(config: string): Promise<string | undefined> {
  const run = await runMain(['discover', '--config', config]);
  const line = run.stdout.split('\n').find((l) => l.includes('"type":"CATALOG"'));
  const streams = line
    ? (JSON.parse(line).catalog.streams as { name: string; [k: string]: unknown }[])
    : [];
  const stream = streams.find((s) => s.name === 'offer_details');
  if (!stream) return undefined;
  return file('catalog-details.json', {
    streams: [{ stream, sync_mode: 'full_refresh', destination_sync_mode: 'overwrite' }],
  });
}

function row(m: Measure, baseline?: Measure): string {
  const ratio = baseline ? (m.ms / baseline.ms).toFixed(2) + '×' : '—';
  const rate = Math.round((m.records / m.ms) * 1000).toLocaleString('en-US');
  return `| ${m.label} | ${(m.ms / 1000).toFixed(2)} s | ${m.records.toLocaleString('en-US')} | ${rate} | ${m.rssMiB.toFixed(0)} MiB | ${ratio} |${m.requests !== undefined ? ` ${m.requests} requests |` : ''}`;
}

function verdict(ok: boolean, text: string): string {
  return `- ${ok ? 'MET' : 'MISSED'}: ${text}`;
}

async function main(): Promise<void> {
  const lines: string[] = [];
  const out = (s = '') => {
    console.log(s);
    lines.push(s);
  };
  const header =
    '| run | wall | records | records/s | peak RSS | vs raw |\n|---|---|---|---|---|---|';
  const checks: string[] = [];

  const only = process.env.BENCH_ONLY; // e.g. "2" to run one scenario while tuning
  const runs = (n: string) => !only || only.includes(n);

  // 1. Latency-bound.
  if (runs('1')) {
    const sim = await simulator(20_000, 40);
    process.env.RAW_PAGES = '200';
    out('## 1. Latency-bound: 20,000 offers, 40 ms per page request, page_size 100\n');
    out(header);
    const rawLat = await median(REPEATS, () =>
      raw('raw keep-alive fetch, 4 in flight', sim.url, 4),
    );
    const conLat = await median(REPEATS, () =>
      connector('connector, defaults (concurrency 4)', sim.url),
    );
    const seqLat = await median(REPEATS, () =>
      connector('connector, concurrency 1', sim.url, { concurrency: 1 }),
    );
    out(row(rawLat));
    out(row(conLat, rawLat));
    out(row(seqLat, rawLat));
    checks.push(
      verdict(
        conLat.ms <= 1.25 * rawLat.ms,
        `latency-bound ≤ 1.25× raw fetch: ${(conLat.ms / rawLat.ms).toFixed(2)}×`,
      ),
    );
    checks.push(
      verdict(
        seqLat.ms >= 3.5 * conLat.ms,
        `≥ 3.5× faster than concurrency 1: ${(seqLat.ms / conLat.ms).toFixed(2)}×`,
      ),
    );
    await sim.stop();
  }

  // 2 and 3 share one simulator with 100,000 offers.
  const sim = runs('2') || runs('3') ? await simulator(100_000, 0) : undefined;
  if (sim && runs('2')) {
    // 2. CPU-bound.
    process.env.RAW_PAGES = '1000';
    out('\n## 2. CPU-bound: 100,000 offers, no added latency\n');
    out(header);
    const rawCpu = await median(REPEATS, () =>
      raw('raw loop (fetch, parse, one JSON line per offer)', sim.url, 1),
    );
    const rawCpu4 = await median(REPEATS, () => raw('raw loop, 4 in flight', sim.url, 4));
    const conCpu = await median(REPEATS, () => connector('connector, defaults', sim.url));
    out(row(rawCpu));
    out(row(rawCpu4, rawCpu));
    out(row(conCpu, rawCpu));
    const rate = (conCpu.records / conCpu.ms) * 1000;
    checks.push(
      verdict(
        conCpu.ms <= 1.5 * rawCpu.ms,
        `CPU-bound ≤ 1.5× raw loop: ${(conCpu.ms / rawCpu.ms).toFixed(2)}× (${(conCpu.ms / rawCpu4.ms).toFixed(2)}× the raw loop with 4 in flight)`,
      ),
    );
    checks.push(
      verdict(rate >= 50_000, `≥ 50,000 records/s: ${Math.round(rate).toLocaleString('en-US')}`),
    );
    checks.push(
      verdict(
        conCpu.rssMiB < 150,
        `peak RSS < 150 MiB for 100,000 offers: ${conCpu.rssMiB.toFixed(0)} MiB`,
      ),
    );
  }
  if (sim && runs('3')) {
    // 3. Incremental: the state of a full read, then 50 new offers.
    out('\n## 3. Incremental: 100,000 offers, 50 new since the last state\n');
    const config = file('config-inc.json', { api_token: TOKEN, api_url: sim.url });
    const full = await runMain(['read', '--config', config, '--catalog', catalog('full')], {
      stderr: 'inherit',
    });
    const stateOut = full.stdout
      .split('\n')
      .filter((l) => l.includes('"type":"STATE"'))
      .pop();
    if (!stateOut) throw new Error('no state from the full read');
    const state = file('state.json', [JSON.parse(stateOut).state]);
    const now = Date.now();
    await control(sim, 'offers', {
      count: 50,
      launchFrom: new Date(now - 3_600_000).toISOString(),
      launchTo: new Date(now).toISOString(),
    });
    await control(sim, 'reset-stats', {});
    const check = await measure('check', [MAIN, 'check', '--config', config], '"SUCCEEDED"');
    const inc = await measure(
      'incremental read',
      [MAIN, 'read', '--config', config, '--catalog', catalog('incremental'), '--state', state],
      '"type":"RECORD"',
    );
    const stats = await control(sim, 'stats');
    const requests = Number(stats.requests);
    out(
      '| run | wall | records | records/s | peak RSS | vs raw | requests |\n|---|---|---|---|---|---|---|',
    );
    out(row({ ...check, records: 0 }));
    out(row({ ...inc, requests }));
    out(
      `\nRequests in all (check + read): ${requests}; records emitted: ${inc.records} (50 new, plus the lookback window's offers).`,
    );
    checks.push(
      verdict(requests <= 3, `incremental with 50 new offers: ≤ 3 requests in all: ${requests}`),
    );
  }
  await sim?.stop();

  // 4. Sync into DuckDB: first syncs beside the plain read of the same inventory, and an incremental.
  if (runs('4')) {
    out('\n## 4. Sync into DuckDB: first sync vs the plain read into a file, no added latency\n');
    out(header);
    const readArgs = (config: string) => [
      MAIN,
      'read',
      '--config',
      config,
      '--catalog',
      catalog('full'),
    ];
    for (const offers of [100_000, 1_000_000]) {
      const n = offers.toLocaleString('en-US');
      const sim4 = await simulator(offers, 0);
      const config = file(`config-sync-${offers}.json`, { api_token: TOKEN, api_url: sim4.url });
      await measureToFile('warm-up', readArgs(config), offers); // warmed: the simulator's caches and the disk
      const db = path.join(tmp, `sync-${offers}.duckdb`);
      // Read and sync take turns, so that both see the machine in the same state: on this
      // shared 2-core machine a run of three reads, then three syncs, could drift by 10%.
      const reads: Measure[] = [];
      const firsts: Measure[] = [];
      for (let i = 0; i < SYNC_REPEATS; i++) {
        reads.push(
          await measureToFile(`read of ${n} offers into a file`, readArgs(config), offers),
        );
        fs.rmSync(db, { force: true });
        firsts.push(
          await measureToFile(
            `first sync of ${n} offers`,
            [MAIN, 'sync', '--streams', 'offers', '--config', config, '--db', db],
            offers,
          ),
        );
      }
      const read = medianOf(reads);
      const first = medianOf(firsts);
      out(row(read));
      out(row(first, read));
      checks.push(
        verdict(
          first.ms <= 1.5 * read.ms,
          `first sync of ${n} offers ≤ 1.5× the read into a file: ${(first.ms / read.ms).toFixed(2)}×`,
        ),
      );
      const limit = offers === 100_000 ? 200 : 400;
      checks.push(
        verdict(
          first.rssMiB < limit,
          `peak RSS < ${limit} MiB for a first sync of ${n} offers: ${first.rssMiB.toFixed(0)} MiB`,
        ),
      );
      if (offers === 1_000_000) {
        // The table as the first sync left it; then 5,000 offers launched in the last hour.
        const base = `${db}.base`;
        fs.copyFileSync(db, base);
        const now = Date.now();
        await control(sim4, 'offers', {
          count: 5000,
          launchFrom: new Date(now - 3_600_000).toISOString(),
          launchTo: new Date(now - 60_000).toISOString(),
        });
        const inc = await median(REPEATS, async () => {
          fs.copyFileSync(base, db);
          // On disk before the clock starts: the kernel writing back the 130 MB copy would
          // otherwise compete with the run being timed.
          const fd = fs.openSync(db, 'r+');
          fs.fsyncSync(fd);
          fs.closeSync(fd);
          return measureToFile(
            `incremental sync: 5,000 new offers into the ${n}-row table`,
            [MAIN, 'sync', '--streams', 'offers', '--config', config, '--db', db],
            0,
          );
        });
        const line = lastOutput;
        inc.records = Number(/^Synced ([\d,]+)/.exec(line)?.[1].replace(/,/g, '') ?? 0);
        out(row(inc));
        out(`\nThe incremental reads the 5,000 new offers plus the lookback window's: ${line}`);
        checks.push(
          verdict(
            inc.ms < 1500,
            `incremental of 5,000 into ${n} rows < 1.5 s: ${(inc.ms / 1000).toFixed(2)} s`,
          ),
        );
        checks.push(
          verdict(
            inc.rssMiB < 400,
            `peak RSS < 400 MiB for that incremental: ${inc.rssMiB.toFixed(0)} MiB`,
          ),
        );
      }
      await sim4.stop();
    }
  }

  // 5. Offer details: one request per offer.
  if (runs('5')) {
    const concurrency = defaultConcurrency();
    const detailsSim = await simulator(5_000, 40);
    process.env.RAW_PAGES = '50';
    out(
      `\n## 5. Offer details: 5,000 offers, 40 ms per request (50 list pages of 100, then 5,000 details), ${concurrency} in flight, stdout to a file\n`,
    );
    const rawArgs = [__filename, '--raw-details', detailsSim.url, String(concurrency)];
    await measureToFile('warm-up', rawArgs, '\n'); // the simulator caches each detail's JSON
    const rawDet = await median(REPEATS, () =>
      measureToFile(`raw: list, then details, ${concurrency} in flight`, rawArgs, '\n'),
    );
    out(header);
    out(row(rawDet));
    const config = file('config-details.json', { api_token: TOKEN, api_url: detailsSim.url });
    const detailsCat = await detailsCatalog(config);
    if (detailsCat) {
      const readArgs = [MAIN, 'read', '--config', config, '--catalog', detailsCat];
      const conDet = await median(REPEATS, () =>
        measureToFile(`connector, offer_details only (defaults)`, readArgs, '"type":"RECORD"'),
      );
      out(row(conDet, rawDet));
      checks.push(
        verdict(
          conDet.ms <= 1.25 * rawDet.ms,
          `offer details ≤ 1.25× raw: ${(conDet.ms / rawDet.ms).toFixed(2)}×`,
        ),
      );
    } else {
      const why = 'skipped the connector run: discover has no offer_details stream';
      out(`\n${why}`);
      checks.push(`- SKIPPED: offer details ≤ 1.25× raw (${why})`);
    }
    await detailsSim.stop();
  }

  out('\n## Targets\n');
  for (const c of checks) out(c);

  const cpu = os.cpus();
  const machine = `${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`;
  const results = path.join(ROOT, 'bench', 'results.md');
  const intro = [
    '# Benchmark results',
    '',
    `Run with \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}; machine: ${machine}.`,
    `Each timing is the median of ${REPEATS} runs (section 4's reads and first syncs: ${SYNC_REPEATS}, taking turns) (peak RSS: the largest); wall time includes process start-up.`,
    'The simulator runs in a process of its own; every run reads its stdout through a pipe (section 4: a file).',
    '',
  ].join('\n');
  const body = lines.join('\n');
  fs.mkdirSync(path.dirname(results), { recursive: true });
  fs.writeFileSync(
    results,
    only && fs.existsSync(results)
      ? mergeSections(fs.readFileSync(results, 'utf8'), body)
      : `${intro}\n${body}\n`,
  );
  console.log(`\nWritten to bench/results.md`);
  fs.rmSync(tmp, { recursive: true, force: true });
}

/**
 * BENCH_ONLY runs: the previous results with the sections just run replaced (and added), the
 * targets of the scenarios not run kept, and a note saying which sections are from when.
 */
function mergeSections(previous: string, fresh: string): string {
  const split = (text: string) => {
    const parts = text.split(/^(?=## )/m);
    return { head: parts[0], sections: new Map(parts.slice(1).map((p) => [p.split('\n')[0], p])) };
  };
  const old = split(previous);
  const now = split(fresh);
  const targets = '## Targets';
  const merged = new Map(old.sections);
  for (const [title, text] of now.sections) if (title !== targets) merged.set(title, text);
  const ran = [...now.sections.keys()].filter((t) => t !== targets);
  const oldTargets =
    old.sections
      .get(targets)
      ?.split('\n')
      .filter((l) => l.startsWith('- ')) ?? [];
  const newTargets =
    now.sections
      .get(targets)
      ?.split('\n')
      .filter((l) => l.startsWith('- ')) ?? [];
  // A target line belongs to the section that ran if the fresh run produced a line with the same start.
  const key = (l: string) => l.replace(/^- (MET|MISSED): /, '').split(':')[0];
  const fresher = new Set(newTargets.map(key));
  const keptTargets = oldTargets.filter((l) => !fresher.has(key(l)));
  const sections = [...merged.entries()]
    .filter(([t]) => t !== targets)
    .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
    .map(([, text]) => text.trimEnd() + '\n\n');
  const note = `Section${ran.length > 1 ? 's' : ''} ${ran.map((t) => t.replace(/^## (\d+)\..*/, '$1')).join(', ')} re-run on ${new Date().toISOString().slice(0, 10)} (BENCH_ONLY=${process.env.BENCH_ONLY}); the others are from the run above.\n\n`;
  return `${old.head.replace(/^Sections? .* re-run on .*\n+/gm, '').trimEnd()}\n\n${note}${sections.join('')}${targets}\n\n${[...keptTargets, ...newTargets].join('\n')}\n`;
}

const rawMode = { '--raw': rawFetch, '--raw-details': rawDetails }[process.argv[2]];
if (rawMode) {
  rawMode(process.argv[3], Number(process.argv[4])).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(`bench failed: ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  });
}
