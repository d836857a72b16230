import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import fs from 'fs';
import path from 'path';
import { generateOffers, GoKartSimulator } from '../tools/simulator';
import {
  Message,
  resetSimulator,
  ROOT,
  runMainForTest,
  simulatorConfig,
  TempDir,
} from './cli-helpers';

// End to end: bin/tap-gokart as a child process against the simulator. Every
// stdout line must be a Singer message (test_files/singer_message.schema.json,
// strict), and every RECORD must validate against its stream's SCHEMA message.

const TAP = path.join(ROOT, 'bin', 'tap-gokart');
const TOKEN = 'sim-token-singer-8d1e4a';
let sim: GoKartSimulator;
const tmp = new TempDir();

const ajv = addFormats(new Ajv({ allErrors: true, strict: false }));
const validateMessage = ajv.compile(
  JSON.parse(fs.readFileSync(path.join(ROOT, 'test_files', 'singer_message.schema.json'), 'utf8')),
);

beforeAll(async () => {
  sim = await GoKartSimulator.start({ offers: 0, token: TOKEN });
});
afterAll(async () => {
  await sim.close();
  tmp.remove();
});

function reset(n: number, seed = 11): void {
  resetSimulator(sim, n, seed);
}

interface TapRun {
  code: number | null;
  stdout: string;
  stderr: string;
  messages: Message[];
  schemas: Message[];
  records: Message[];
  states: Message[];
  activations: Message[];
}

/** Runs bin/tap-gokart; fails the test on any stdout line that is not a valid Singer message. */
async function tap(args: string[]): Promise<TapRun> {
  const { code, stdout, stderr } = await runMainForTest(args, { main: TAP });
  const messages: Message[] = [];
  const recordSchemas = new Map<string, ValidateFunction>();
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    const msg = JSON.parse(line) as Message;
    if (!validateMessage(msg)) {
      throw new Error(
        `not a Singer message: ${line.slice(0, 300)}: ${ajv.errorsText(validateMessage.errors)}`,
      );
    }
    if (msg.type === 'SCHEMA') recordSchemas.set(msg.stream, ajv.compile(msg.schema));
    if (msg.type === 'RECORD') {
      const validate = recordSchemas.get(msg.stream);
      if (!validate) throw new Error(`RECORD before the SCHEMA of ${msg.stream}`);
      if (!validate(msg.record)) {
        throw new Error(`RECORD does not match its SCHEMA: ${ajv.errorsText(validate.errors)}`);
      }
    }
    messages.push(msg);
  }
  const of = (type: string) => messages.filter((m) => m.type === type);
  return {
    code,
    stdout,
    stderr,
    messages,
    schemas: of('SCHEMA'),
    records: of('RECORD'),
    states: of('STATE'),
    activations: of('ACTIVATE_VERSION'),
  };
}

/** --discover, --about, --version: one document on stdout, not Singer messages. */
const raw = (args: string[]) => runMainForTest(args, { main: TAP });

function config(extra: Record<string, unknown> = {}): string {
  return simulatorConfig(tmp, sim, extra);
}
const file = (value: unknown) => tmp.write(`file-${Math.random()}.json`, value);
/** The offers stream's record ids, sorted. */
const ids = (run: TapRun) =>
  run.records
    .filter((r) => r.stream === 'offers')
    .map((r) => r.record.id as string)
    .sort();
const noToken = (run: TapRun) => {
  expect(run.stdout).not.toContain(TOKEN);
  expect(run.stderr).not.toContain(TOKEN);
};

/** The discovered catalog with the offers stream's empty-breadcrumb metadata and some properties' changed. */
async function catalog(
  top: Record<string, unknown>,
  properties: Record<string, Record<string, unknown>> = {},
): Promise<unknown> {
  const discovered = JSON.parse((await raw(['--config', config(), '--discover'])).stdout);
  for (const entry of discovered.streams) {
    if (entry.tap_stream_id !== 'offers') continue;
    for (const m of entry.metadata) {
      if (m.breadcrumb.length === 0) Object.assign(m.metadata, top);
      else Object.assign(m.metadata, properties[m.breadcrumb[1]] ?? {});
    }
  }
  return discovered;
}

describe('tap-gokart: discover and about', () => {
  it('prints a Singer catalog with breadcrumb metadata', async () => {
    const run = await raw(['--config', config(), '--discover']);
    expect(run.code).toBe(0);
    const { streams } = JSON.parse(run.stdout);
    expect(streams.map((s: { tap_stream_id: string }) => s.tap_stream_id)).toEqual([
      'offers',
      'offer_details',
    ]);
    const [offers, details] = streams;
    expect(details).toMatchObject({ key_properties: ['id'], stream: 'offer_details' });
    expect(details.replication_key).toBeUndefined();
    expect(details.metadata[0].metadata['forced-replication-method']).toBe('FULL_TABLE');
    expect(offers).toMatchObject({
      tap_stream_id: 'offers',
      stream: 'offers',
      key_properties: ['id'],
      schema: { type: 'object', properties: { id: { type: 'string' } } },
    });
    const md = new Map<string, Record<string, unknown>>(
      offers.metadata.map((m: { breadcrumb: string[]; metadata: Record<string, unknown> }) => [
        m.breadcrumb.join('/'),
        m.metadata,
      ]),
    );
    expect(md.get('')).toEqual({
      inclusion: 'available',
      'table-key-properties': ['id'],
      'valid-replication-keys': ['launchDate'],
    });
    expect(md.get('properties/id')).toEqual({ inclusion: 'automatic' });
    expect(md.get('properties/launchDate')).toEqual({ inclusion: 'automatic' });
    expect(md.get('properties/name')).toEqual({ inclusion: 'available' });
    expect(md.size).toBe(Object.keys(offers.schema.properties).length + 1);
  });

  it('--about describes capabilities and settings from the spec; --version', async () => {
    const run = await raw(['--about', '--format', 'json']);
    expect(run.code).toBe(0);
    const about = JSON.parse(run.stdout);
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(about).toMatchObject({ name: 'tap-gokart', version: pkg.version });
    expect(about.capabilities.sort()).toEqual(
      ['about', 'catalog', 'discover', 'properties', 'state'].sort(),
    );
    expect(about.settings.properties.api_token).toMatchObject({ type: 'string', secret: true });
    expect(about.settings.properties.page_size).toMatchObject({ type: 'integer', default: 100 });
    expect(about.settings.properties.lookback_days.secret).toBeUndefined();
    const md = await raw(['--about', '--format', 'markdown']);
    expect(md.stdout).toMatch(/^\| api_token \| string \| yes \| {2}\| yes \|/m);
    expect((await raw(['--version'])).stdout.trim()).toBe(pkg.version);
  });

  it('refuses a bad config with a one-line reason on stderr and nothing on stdout', async () => {
    const run = await tap(['--config', config({ page_size: 500 }), '--discover']);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain('page_size');
    noToken(run);
  });
});

describe('tap-gokart: sync', () => {
  it('without a catalog syncs every stream, incrementally where it can: SCHEMA, RECORDs, then STATE', async () => {
    reset(250);
    const run = await tap(['--config', config()]);
    expect(run.code).toBe(0);
    expect(run.messages[0]).toMatchObject({
      type: 'SCHEMA',
      stream: 'offers',
      key_properties: ['id'],
      bookmark_properties: ['launchDate'],
    });
    const offers = run.records.filter((r) => r.stream === 'offers');
    expect(offers.map((r) => r.record.id).sort()).toEqual(
      sim
        .offers()
        .map((o) => o.id)
        .sort(),
    );
    expect(offers.every((r) => r.version === undefined)).toBe(true);
    // offer_details is full table: versioned records, activated around them.
    const details = run.records.filter((r) => r.stream === 'offer_details');
    expect(details).toHaveLength(250);
    const version = run.activations[0]?.version;
    expect(run.activations.map((a) => a.stream)).toEqual(['offer_details', 'offer_details']);
    expect(details.every((r) => r.version === version)).toBe(true);
    expect(run.messages.at(-1)).toEqual({
      type: 'STATE',
      value: {
        bookmarks: {
          offer_details: { version },
          offers: {
            replication_key: 'launchDate',
            replication_key_value: new Date(
              Math.max(...sim.offers().map((o) => Date.parse(o.launchDate))),
            ).toISOString(),
          },
        },
      },
    });
    expect(run.stderr).toMatch(/INFO Read 250 offers/);
    expect(run.stderr).toMatch(/INFO Read 250 offer_details/);
    noToken(run);
  });

  it('round trip: the last STATE value as --state syncs only the new offers', async () => {
    reset(300);
    const cfg = config({ lookback_days: 0 });
    const first = await tap(['--config', cfg]);
    const value = first.states.at(-1)?.value;
    const cursor = Date.parse(value.bookmarks.offers.replication_key_value);
    const fresh = generateOffers(7, 99, {
      from: new Date(cursor + 86_400_000),
      to: new Date(Date.now() - 86_400_000),
      idPrefix: 'fresh-',
    });
    sim.add(fresh);
    const second = await tap(['--config', cfg, '--state', file(value)]);
    expect(second.code).toBe(0);
    // The replication key is inclusive: the offers at the cursor itself come again.
    const atCursor = sim.offers().filter((o) => Date.parse(o.launchDate) === cursor);
    expect(ids(second)).toEqual([...fresh, ...atCursor].map((o) => o.id).sort());
    expect(ids(second).length).toBeLessThan(20);
    const next = second.states.at(-1)?.value.bookmarks.offers;
    expect(Date.parse(next.replication_key_value)).toBeGreaterThan(cursor);
  });

  it('a full-table sync versions its records and activates the version', async () => {
    reset(120);
    const cat = file(await catalog({ selected: true, 'replication-method': 'FULL_TABLE' }));
    const first = await tap(['--config', config(), '--catalog', cat]);
    expect(first.code).toBe(0);
    const types = first.messages.map((m) => m.type);
    // First sync: activated before the first record too, so the table exists at once.
    expect(types.slice(0, 3)).toEqual(['SCHEMA', 'ACTIVATE_VERSION', 'RECORD']);
    expect(types.slice(-2)).toEqual(['ACTIVATE_VERSION', 'STATE']);
    const version = first.activations[0].version;
    expect(first.records.every((r) => r.version === version)).toBe(true);
    expect(first.activations.every((a) => a.version === version)).toBe(true);
    expect(first.schemas[0].bookmark_properties).toEqual([]);
    expect(ids(first)).toHaveLength(120);
    const state = first.states.at(-1)?.value;
    expect(state).toEqual({ bookmarks: { offers: { version } } });

    // Later syncs: one ACTIVATE_VERSION, after the records (a target drops rows of older versions).
    const second = await tap(['--config', config(), '--catalog', cat, '--state', file(state)]);
    const types2 = second.messages.map((m) => m.type);
    expect(types2.filter((t) => t === 'ACTIVATE_VERSION')).toHaveLength(1);
    expect(types2.slice(-2)).toEqual(['ACTIVATE_VERSION', 'STATE']);
    expect(second.activations[0].version).toBeGreaterThan(version);
  });

  it('a failed read exits non-zero with a one-line reason, no STATE and no closing ACTIVATE_VERSION', async () => {
    reset(500);
    sim.injectFault({ kind: 'status', status: 401, page: 2 });
    const cat = file(await catalog({ selected: true, 'replication-method': 'FULL_TABLE' }));
    const run = await tap(['--config', config({ concurrency: 1 }), '--catalog', cat]);
    expect(run.code).toBe(1);
    expect(run.records.length).toBeGreaterThan(0);
    expect(run.states).toHaveLength(0);
    expect(run.messages.at(-1)?.type).toBe('RECORD');
    const last = run.stderr.trim().split('\n').at(-1);
    expect(last).toMatch(/^tap-gokart failed: Reading the offers stream failed .*page 2/);
    noToken(run);
  });

  it('refuses an Airbyte-shaped state, naming the expected shape', async () => {
    reset(5);
    for (const airbyte of [
      [{ type: 'STREAM', stream: { stream_descriptor: { name: 'offers' }, stream_state: {} } }],
      { offers: { launchDate: '2025-01-01T00:00:00Z' } },
    ]) {
      const run = await tap(['--config', config(), '--state', file(airbyte)]);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toContain('expected the Singer shape {"bookmarks": {"offers": {');
      expect(run.stderr).toContain('Airbyte state');
    }
    expect(sim.requests).toHaveLength(0);
  });

  it('refuses a bookmark with a bad cursor value, naming it', async () => {
    const state = {
      bookmarks: { offers: { replication_key: 'launchDate', replication_key_value: 'soon' } },
    };
    const run = await tap(['--config', config(), '--state', file(state)]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('offers.launchDate must be a date-time');
  });
});

describe('tap-gokart: selection', () => {
  it('a catalog that selects nothing syncs nothing and says so on stderr', async () => {
    reset(10);
    const run = await tap([
      '--config',
      config(),
      '--catalog',
      file(await catalog({ selected: false })),
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/selects no stream/);
    expect(sim.requests).toHaveLength(0);
  });

  it('a deselected property leaves SCHEMA and RECORDs; automatic ones are kept', async () => {
    reset(50);
    const cat = await catalog(
      { selected: true },
      {
        name: { selected: false },
        budgetAmount: { selected: false },
        id: { selected: false },
        launchDate: { selected: false },
      },
    );
    const run = await tap(['--config', config(), '--catalog', file(cat)]);
    expect(run.code).toBe(0);
    const props = Object.keys(run.schemas[0].schema.properties);
    expect(props).not.toContain('name');
    expect(props).not.toContain('budgetAmount');
    expect(props).toEqual(expect.arrayContaining(['id', 'launchDate', 'endDate']));
    expect(run.records).toHaveLength(50);
    for (const { record } of run.records) {
      expect(record).not.toHaveProperty('name');
      expect(record).not.toHaveProperty('budgetAmount');
      expect(record).toHaveProperty('id');
      expect(record).toHaveProperty('launchDate');
      expect(record).toHaveProperty('offerType');
    }
    expect(run.stderr).toMatch(/offers\.id is automatic/);
    expect(run.stderr).toMatch(/offers\.launchDate is automatic/);
  });

  it('--properties (legacy) syncs exactly what --catalog does', async () => {
    reset(40);
    const cat = file(await catalog({ selected: true }, { categories: { selected: false } }));
    const strip = (run: TapRun) => run.messages.map((m) => ({ ...m, time_extracted: undefined }));
    const a = await tap(['--config', config(), '--catalog', cat]);
    const b = await tap(['--config', config(), '--properties', cat]);
    expect(a.code).toBe(0);
    expect(a.records).toHaveLength(40);
    expect(a.records[0].record).not.toHaveProperty('categories');
    expect(strip(b)).toEqual(strip(a));
  });

  it('refuses an unknown stream and a replication key other than the cursor', async () => {
    const unknown = { streams: [{ tap_stream_id: 'coupons', metadata: [] }] };
    const run = await tap(['--config', config(), '--catalog', file(unknown)]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('unknown stream "coupons"');
    const badKey = file(await catalog({ selected: true, 'replication-key': 'endDate' }));
    const run2 = await tap(['--config', config(), '--catalog', badKey]);
    expect(run2.code).toBe(1);
    expect(run2.stderr).toContain('replication-key must be "launchDate"');
  });
});
