import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import fs from 'fs';
import path from 'path';
import { GoKartSimulator } from '../tools/simulator';
import {
  CliRun,
  errors,
  Message,
  resetSimulator,
  ROOT,
  runCli,
  simulatorConfig,
  statuses,
  TempDir,
} from './cli-helpers';

// End to end: the offer_details stream, bin/main as a child process against the
// simulator. runCli checks every stdout line against our strict message schema;
// here each is also checked against the Airbyte protocol itself, and each record
// against its stream's schema from discover.

const TOKEN = 'sim-token-details-7c1e';
let sim: GoKartSimulator;
const tmp = new TempDir();
let protocol: ValidateFunction;
const recordSchemas = new Map<string, ValidateFunction>();

beforeAll(async () => {
  sim = await GoKartSimulator.start({ offers: 0, token: TOKEN });
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  const schema = JSON.parse(
    fs.readFileSync(path.join(ROOT, 'test_files', 'airbyte_protocol.schema.json'), 'utf8'),
  );
  protocol = ajv.compile({ ...schema, $ref: '#/definitions/AirbyteMessage' });
  const discovered = await runCli(['discover', '--config', config()]);
  for (const stream of discovered.messages[0].catalog.streams) {
    recordSchemas.set(stream.name, ajv.compile(stream.json_schema));
  }
});
afterAll(async () => {
  await sim.close();
  tmp.remove();
});

function reset(n: number, seed = 11): void {
  resetSimulator(sim, n, seed);
}

function config(extra: Record<string, unknown> = {}): string {
  return simulatorConfig(tmp, sim, extra);
}

function catalog(...streams: [name: string, mode?: string][]): string {
  return tmp.write(`catalog-${Math.random()}.json`, {
    streams: streams.map(([name, mode = 'full_refresh']) => ({
      stream: { name, json_schema: {}, supported_sync_modes: ['full_refresh'] },
      sync_mode: mode,
      destination_sync_mode: mode === 'incremental' ? 'append_dedup' : 'overwrite',
    })),
  });
}
const BOTH = () => catalog(['offers'], ['offer_details']);

/** bin/main read; every message valid for the Airbyte protocol, every record for its stream. */
async function read(cat: string, extra: Record<string, unknown> = {}): Promise<CliRun> {
  const run = await runCli(['read', '--config', config(extra), '--catalog', cat]);
  for (const msg of run.messages) {
    if (!protocol(msg)) {
      throw new Error(`not an Airbyte protocol message: ${JSON.stringify(msg).slice(0, 300)}`);
    }
    if (msg.type === 'RECORD') {
      const validate = recordSchemas.get(msg.record.stream)!;
      if (!validate(msg.record.data)) {
        throw new Error(`record does not fit ${msg.record.stream}: ${ajvText(validate)}`);
      }
    }
  }
  return run;
}
const ajvText = (v: ValidateFunction) => JSON.stringify(v.errors?.slice(0, 3));

const recordsOf = (run: CliRun, stream: string) =>
  run.records.filter((r) => r.record.stream === stream).map((r) => r.record.data as Message);
const idsOf = (run: CliRun, stream: string) => recordsOf(run, stream).map((r) => r.id as string);
const stateOf = (run: CliRun, stream: string) =>
  run.states.filter((s) => s.state.stream.stream_descriptor.name === stream);
const detailRequests = () => sim.requests.filter((r) => r.kind === 'details');
const listRequests = () => sim.requests.filter((r) => r.kind === 'list');
/** The list's ids in the order GoKart serves them. */
const listOrder = () => sim.offers().map((o) => o.id);
const noToken = (run: CliRun) => {
  expect(run.stdout).not.toContain(TOKEN);
  expect(run.stderr).not.toContain(TOKEN);
};

describe('offer_details: discover and catalogs', () => {
  it('discover lists it beside offers: key id, full refresh only, no cursor', async () => {
    const run = await runCli(['discover', '--config', config()]);
    const [offers, details] = run.messages[0].catalog.streams;
    expect(offers.name).toBe('offers');
    expect(details).toEqual({
      name: 'offer_details',
      supported_sync_modes: ['full_refresh'],
      source_defined_primary_key: [['id']],
      is_resumable: false,
      json_schema: expect.objectContaining({ required: ['id'], additionalProperties: true }),
    });
    const props = details.json_schema.properties;
    expect(props.payoutId.type).toEqual(['null', 'string']);
    expect(props.events.type).toEqual(['null', 'array']);
    expect(props.payout.type).toEqual(['null', 'object']);
  });

  it('a catalog asking offer_details incremental is a config error naming streams[1]', async () => {
    reset(3);
    const run = await read(catalog(['offers'], ['offer_details', 'incremental']));
    expect(run.code).toBe(1);
    expect(errors(run)[0]).toMatchObject({
      failure_type: 'config_error',
      message: 'catalog: streams[1].sync_mode must be full_refresh (got "incremental")',
    });
    expect(sim.requests).toHaveLength(0);
  });
});

describe('offer_details: reads', () => {
  it('both streams: every offer, then every offer’s details in list order, one detail request each', async () => {
    reset(230);
    const run = await read(BOTH(), { page_size: 100 });
    expect(run.code).toBe(0);
    expect(idsOf(run, 'offers')).toEqual(listOrder());
    expect(idsOf(run, 'offer_details')).toEqual(listOrder());
    // The list is read once per stream (3 pages each); one detail request per offer.
    expect(listRequests()).toHaveLength(6);
    expect(detailRequests()).toHaveLength(230);
    expect(new Set(detailRequests().map((r) => r.offerId)).size).toBe(230);
    const detail = recordsOf(run, 'offer_details')[0];
    expect(detail).toMatchObject({ id: listOrder()[0], payoutId: expect.any(String) });
    expect(Object.keys(detail)).toEqual(expect.arrayContaining(['headline', 'events', 'payout']));
    expect(stateOf(run, 'offer_details')).toEqual([
      {
        type: 'STATE',
        state: {
          type: 'STREAM',
          stream: { stream_descriptor: { name: 'offer_details' }, stream_state: {} },
          sourceStats: { recordCount: 230 },
        },
      },
    ]);
    expect(statuses(run)).toEqual([
      'STARTED',
      'RUNNING',
      'COMPLETE',
      'STARTED',
      'RUNNING',
      'COMPLETE',
    ]);
    expect(run.logs).toContainEqual(
      expect.stringMatching(/^Read 230 offer_details \(full_refresh\) with 233 requests/),
    );
  });

  it('only offers: no detail request', async () => {
    reset(40);
    const run = await read(catalog(['offers']));
    expect(run.code).toBe(0);
    expect(idsOf(run, 'offers')).toHaveLength(40);
    expect(detailRequests()).toHaveLength(0);
  });

  it('only offer_details: reads the list for the ids but emits no offers records', async () => {
    reset(40);
    const run = await read(catalog(['offer_details']), { page_size: 25 });
    expect(run.code).toBe(0);
    expect(idsOf(run, 'offers')).toEqual([]);
    expect(idsOf(run, 'offer_details')).toEqual(listOrder());
    expect(listRequests()).toHaveLength(2);
    expect(detailRequests()).toHaveLength(40);
    expect(run.states).toHaveLength(1);
  });

  it('emits in list order when details complete out of order, with at most `concurrency` in flight', async () => {
    reset(30);
    sim.setLatency(5);
    // The first offer's details come last of the first few.
    sim.injectFault({ kind: 'slow', delayMs: 300, on: 'details', offerId: listOrder()[0] });
    const run = await read(catalog(['offer_details']), { concurrency: 3 });
    expect(run.code).toBe(0);
    expect(idsOf(run, 'offer_details')).toEqual(listOrder());
    // One list page, read before any detail: then never more than 3 details at once.
    expect(sim.maxInFlight).toBe(3);
  });

  it('start_date limits it to the offers the offers stream reads', async () => {
    reset(60);
    const launches = sim
      .offers()
      .map((o) => Date.parse(o.launchDate))
      .sort((a, b) => a - b);
    const startDate = new Date(launches[30]).toISOString();
    const run = await read(BOTH(), { start_date: startDate, page_size: 10 });
    expect(run.code).toBe(0);
    const offers = idsOf(run, 'offers');
    expect(offers.length).toBeGreaterThanOrEqual(30);
    expect(offers.length).toBeLessThan(60);
    expect(idsOf(run, 'offer_details').sort()).toEqual([...offers].sort());
    expect(detailRequests()).toHaveLength(offers.length);
  });

  it('takes data as a one-item paginated list the same as the object', async () => {
    reset(12);
    const asObjects = recordsOf(await read(catalog(['offer_details'])), 'offer_details');
    sim.setDetailsShape('list');
    const asLists = recordsOf(await read(catalog(['offer_details'])), 'offer_details');
    expect(asLists).toHaveLength(12);
    expect(asLists).toEqual(asObjects);
  });
});

describe('offer_details: withdrawn offers and faults', () => {
  it('an offer withdrawn between the list and its details (404) is skipped with one WARN', async () => {
    reset(20);
    const victim = listOrder()[7];
    // Withdrawn once the (only) list page has been computed: the list has it, its details 404.
    sim.onRequest((_entry, served) => {
      if (served === 1) sim.remove([victim]);
    });
    const run = await read(catalog(['offer_details']));
    expect(run.code).toBe(0);
    const ids = idsOf(run, 'offer_details');
    expect(ids).toHaveLength(19);
    expect(ids).not.toContain(victim);
    const warnings = run.messages.filter((m) => m.type === 'LOG' && m.log.level === 'WARN');
    expect(warnings.map((m) => m.log.message)).toEqual([
      `offer ${victim} was withdrawn between the list and its details (404); skipped`,
    ]);
    expect(detailRequests()).toHaveLength(20);
    expect(stateOf(run, 'offer_details')[0].state.sourceStats.recordCount).toBe(19);
    expect(statuses(run).at(-1)).toBe('COMPLETE');
  });

  it('every detail answering 404 from the start fails: the endpoint is missing', async () => {
    reset(30);
    sim.injectFault({ kind: 'status', status: 404, on: 'details', times: 1000 });
    const run = await read(catalog(['offer_details']), { concurrency: 1 });
    expect(run.code).toBe(1);
    expect(errors(run)[0]).toMatchObject({
      failure_type: 'config_error',
      message: expect.stringContaining('offer-details endpoint seems missing'),
    });
    expect(stateOf(run, 'offer_details')).toEqual([]);
  });

  it('a 500 on a detail is retried, then the read completes', async () => {
    reset(15);
    const id = listOrder()[4];
    sim.injectFault({
      kind: 'status',
      status: 500,
      on: 'details',
      offerId: id,
      messages: ['database hiccup'],
    });
    const run = await read(catalog(['offer_details']));
    expect(run.code).toBe(0);
    expect(idsOf(run, 'offer_details')).toEqual(listOrder());
    expect(run.logs).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^Retrying offer details of ${id} in .*HTTP 500 \\(API said: database hiccup\\)`,
        ),
      ),
    );
    expect(detailRequests()).toHaveLength(16);
  });

  it('a 401 on a detail fails the stream naming the id and quoting GoKart; no STATE for it', async () => {
    reset(25);
    const id = listOrder()[10];
    sim.injectFault({
      kind: 'status',
      status: 401,
      on: 'details',
      offerId: id,
      messages: ['Token revoked'],
    });
    const run = await read(BOTH());
    expect(run.code).toBe(1);
    expect(stateOf(run, 'offers')).toHaveLength(1);
    expect(stateOf(run, 'offer_details')).toEqual([]);
    expect(errors(run)).toEqual([
      {
        failure_type: 'config_error',
        stream_descriptor: { name: 'offer_details' },
        message: expect.stringMatching(
          new RegExp(
            `^Reading the offer_details stream failed after \\d+ records: GoKart rejected the API token ` +
              `\\(HTTP 401 \\(API said: Token revoked\\)\\) while reading offer details of ${id}: check api_token$`,
          ),
        ),
      },
    ]);
    // In list order, nothing at or after the failed offer.
    const ids = idsOf(run, 'offer_details');
    expect(ids).toEqual(listOrder().slice(0, ids.length));
    expect(ids.length).toBeLessThan(10 + 1);
    expect(statuses(run).at(-1)).toBe('INCOMPLETE');
  });

  it('a 429 with Retry-After on details: RATE_LIMITED, concurrency lowered, then complete', async () => {
    reset(20);
    sim.injectFault({ kind: 'status', status: 429, on: 'details', retryAfter: '1' });
    const run = await read(catalog(['offer_details']), { concurrency: 4 });
    expect(run.code).toBe(0);
    expect(idsOf(run, 'offer_details')).toEqual(listOrder());
    const limited = run.traces.filter(
      (t) => t.trace.type === 'STREAM_STATUS' && t.trace.stream_status.reasons,
    );
    expect(limited[0].trace.stream_status).toMatchObject({
      stream_descriptor: { name: 'offer_details' },
      status: 'RUNNING',
      reasons: [{ type: 'RATE_LIMITED', rate_limited: { quota_reset: expect.any(Number) } }],
    });
    expect(run.logs).toContainEqual(
      'GoKart is rate limiting: concurrency lowered to 2 for the rest of the sync',
    );
    expect(detailRequests()).toHaveLength(21);
  });

  it('a secret GoKart echoes in a detail error is scrubbed', async () => {
    reset(8);
    sim.injectFault({
      kind: 'status',
      status: 400,
      on: 'details',
      messages: ['token {token} may not read this offer'],
      echoToken: true,
    });
    const run = await read(catalog(['offer_details']));
    expect(run.code).toBe(1);
    expect(errors(run)[0].message).toMatch(
      /GoKart refused the request for offer details of \S+ \(HTTP 400 \(API said: token \*{10} may not read this offer\)\)/,
    );
    noToken(run);
  });
});
