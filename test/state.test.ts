import { SyncMode } from 'faros-airbyte-cdk/lib/protocol';
import { OffersPage } from '../src/api/types';
import { GoKartConfig, resolveConfig, validateConfig } from '../src/config';
import { streamStateOf } from '../src/read/state';
import { FetchPage } from '../src/api/types';
import { offers, OffersState, parseOffersState } from '../src/streams/offers';

const parseInputState = (input: unknown) => parseOffersState(streamStateOf(input, 'offers'));
const openRead = (
  config: GoKartConfig,
  syncMode: SyncMode,
  state: OffersState,
  fetchPage: FetchPage,
  hooks: object,
) =>
  offers.open({
    config,
    syncMode,
    state,
    fetchPage,
    fetchObject: () => Promise.reject(new Error('the offers stream reads no details')),
    hooks,
  });

const DAY = 86_400_000;
const stream = (name: string, stream_state: unknown) => ({
  type: 'STREAM',
  stream: { stream_descriptor: { name }, stream_state },
});

describe('parseInputState', () => {
  it.each([
    [
      'the per-stream list',
      [stream('other', { x: 1 }), stream('offers', { launchDate: '2025-01-01T00:00:00Z' })],
    ],
    ['one STREAM message', stream('offers', { launchDate: '2025-01-01T00:00:00Z' })],
    ['a legacy object', { offers: { launchDate: '2025-01-01T00:00:00Z' } }],
    [
      'a LEGACY message',
      { type: 'LEGACY', legacy: { offers: { launchDate: '2025-01-01T00:00:00Z' } } },
    ],
  ])('reads %s', (_label, input) => {
    expect(parseInputState(input)).toEqual({ launchDate: '2025-01-01T00:00:00Z' });
  });

  it.each([
    [undefined],
    [null],
    [[]],
    [{}],
    [[stream('other', { launchDate: '2025-01-01T00:00:00Z' })]],
    [{ offers: {} }],
  ])('finds no cursor in %j', (input) => expect(parseInputState(input)).toEqual({}));

  it.each([
    [{ offers: { launchDate: 'soon' } }, 'state: offers.launchDate must be a date-time'],
    [{ offers: { launchDate: 20250101 } }, 'state: offers.launchDate must be a date-time'],
    [{ offers: 'x' }, "state: the offers stream's state must be an object"],
  ])('rejects %j naming the field', (input, message) => {
    expect(() => parseInputState(input)).toThrow(message);
  });
});

describe('openRead', () => {
  const config = (extra: Record<string, unknown> = {}) =>
    resolveConfig(validateConfig({ api_token: 't', tenant: 'acme', lookback_days: 2, ...extra }));

  /** One page of offers launched at the given times; records the request. */
  function server(launches: number[]) {
    const requests: unknown[] = [];
    const fetch = async (req: unknown): Promise<OffersPage> => {
      requests.push(req);
      const items = launches.map((t, i) => ({
        id: `o${i}`,
        launchDate: new Date(t).toISOString(),
      }));
      return {
        pageIndex: 0,
        pageSize: 100,
        totalCount: items.length,
        totalPages: 1,
        hasNextPage: false,
        items,
      };
    };
    return { fetch, requests };
  }

  async function drain(read: ReturnType<typeof openRead>): Promise<string[]> {
    const ids: string[] = [];
    for await (const batch of read.batches) ids.push(...batch.map((o) => o.id));
    return ids;
  }

  it('reads from cursor minus lookback and saves the newest launch emitted', async () => {
    const cursor = Date.parse('2025-06-10T00:00:00Z');
    const { fetch } = server([cursor + DAY, cursor - DAY, cursor - 3 * DAY]);
    const read = openRead(
      config(),
      SyncMode.INCREMENTAL,
      { launchDate: new Date(cursor).toISOString() },
      fetch,
      {},
    );
    expect(await drain(read)).toEqual(['o0', 'o1']);
    expect(read.finalState()).toEqual({ launchDate: new Date(cursor + DAY).toISOString() });
  });

  it('uses start_date when it is later than cursor minus lookback', async () => {
    const cursor = Date.parse('2025-06-10T00:00:00Z');
    const { fetch } = server([cursor - DAY, cursor - 12 * 3_600_000]);
    const start = new Date(cursor - 18 * 3_600_000).toISOString();
    const read = openRead(
      config({ start_date: start }),
      SyncMode.INCREMENTAL,
      { launchDate: new Date(cursor).toISOString() },
      fetch,
      {},
    );
    expect(await drain(read)).toEqual(['o1']);
  });

  it('never moves the cursor past the sync start, nor backwards over what it had', async () => {
    const future = Date.now() + 30 * DAY;
    const { fetch } = server([future]);
    const before = Date.now();
    const read = openRead(
      config(),
      SyncMode.INCREMENTAL,
      { launchDate: '2025-01-01T00:00:00Z' },
      fetch,
      {},
    );
    await drain(read);
    const saved = Date.parse(String(read.finalState().launchDate));
    expect(saved).toBeGreaterThanOrEqual(before - 1000);
    expect(saved).toBeLessThanOrEqual(Date.now());

    const none = openRead(
      config(),
      SyncMode.INCREMENTAL,
      { launchDate: '2025-01-01T00:00:00Z' },
      server([]).fetch,
      {},
    );
    await drain(none);
    expect(none.finalState()).toEqual({ launchDate: '2025-01-01T00:00:00.000Z' });
  });

  it('ignores the saved cursor in full refresh', async () => {
    const { fetch, requests } = server([Date.parse('2020-01-01T00:00:00Z')]);
    const read = openRead(
      config(),
      SyncMode.FULL_REFRESH,
      { launchDate: '2025-01-01T00:00:00Z' },
      fetch,
      {},
    );
    expect(await drain(read)).toEqual(['o0']);
    expect(requests[0]).toEqual({ page: 0, newestLaunchFirst: false });
    expect(read.finalState()).toEqual({ launchDate: '2020-01-01T00:00:00.000Z' });
  });
});
