import { SyncMode } from 'faros-airbyte-cdk/lib/protocol';
import { GoKartConfig, resolveConfig, validateConfig } from '../src/config';
import { ConfigError } from '../src/errors';
import { ReadEvent } from '../src/read/events';
import { readStreams } from '../src/read/read';
import { GoKartSimulator } from '../tools/simulator';
import { offers } from '../src/streams/offers';

let sim: GoKartSimulator;
beforeAll(async () => {
  sim = await GoKartSimulator.start({ offers: 25 });
});
afterAll(() => sim.close());
beforeEach(() => {
  sim.clearFaults();
  sim.resetStats();
});

function config(extra: Record<string, unknown> = {}): GoKartConfig {
  return resolveConfig(
    validateConfig({ api_token: 'sim-token', api_url: sim.url, page_size: 10, ...extra }),
  );
}

const full = [{ stream: offers, syncMode: SyncMode.FULL_REFRESH }];

describe('readStreams', () => {
  it('tells a read as typed events: started, estimate, one event per page, checkpoint, completed', async () => {
    const events: ReadEvent[] = [];
    for await (const event of readStreams(config(), full, undefined)) events.push(event);
    expect(events.map((e) => e.type)).toEqual([
      'started',
      'estimate',
      'records',
      'records',
      'records',
      'checkpoint',
      'completed',
    ]);
    const records = events.flatMap((e) => (e.type === 'records' ? e.records : []));
    expect(new Set(records.map((r) => r.id)).size).toBe(25);
    expect(events.at(-2)).toMatchObject({ type: 'checkpoint', stream: 'offers', recordCount: 25 });
  });

  it('throws ConfigError for a bad state before any event or request', async () => {
    const read = readStreams(config(), full, { offers: { launchDate: 'soon' } });
    await expect(read.next()).rejects.toThrow(ConfigError);
    expect(sim.requests).toHaveLength(0);
  });

  it('ends the read when its consumer throws, even mid-page: the retry waiting for a page is never sent', async () => {
    sim.injectFault({ kind: 'status', status: 503, page: 1 });
    const read = readStreams(
      { ...config({ concurrency: 1 }), retryBaseDelayMs: 300 },
      full,
      undefined,
    );
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const event of read) {
          seen.push(event.type);
          if (event.type === 'retry') throw new Error('the sink failed');
        }
      })(),
    ).rejects.toThrow('the sink failed');
    expect(seen).toEqual(['started', 'estimate', 'records', 'retry']);
    // The retry of page 1 would be sent some 300 ms after the 503; it never is.
    await new Promise((r) => setTimeout(r, 800));
    expect(sim.requests.map((r) => r.page)).toEqual([0, 1]);
    expect(await read.next()).toEqual({ done: true, value: undefined });
  });
});
