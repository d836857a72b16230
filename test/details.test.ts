import { SyncMode } from 'faros-airbyte-cdk/lib/protocol';
import { ApiRecord, FetchObject, FetchPage, ObjectQuery, OffersPage } from '../src/api/types';
import { GoKartConfig, resolveConfig, validateConfig } from '../src/config';
import { ApiError } from '../src/errors';
import { detailsInOrder } from '../src/read/scan/details';
import { MISSING_ENDPOINT_AFTER, offerDetails } from '../src/streams/offer_details';

// The ordered concurrent detail fetcher and the offer_details stream through injected
// fetch functions: every request is a promise the test settles, so order and
// concurrency are checked without clocks.

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** Lets every pending promise callback run. */
const flush = () => new Promise((resolve) => setImmediate(resolve));

const records = (...ids: string[]): ApiRecord[] => ids.map((id) => ({ id }));

/** A detail fetch the test answers by hand; counts what is in flight. */
class ManualFetch {
  readonly calls: { id: string; signal: AbortSignal; answer: Deferred<ApiRecord | undefined> }[] =
    [];
  inFlight = 0;
  maxInFlight = 0;

  readonly fetch = (record: ApiRecord, signal: AbortSignal) => {
    const answer = deferred<ApiRecord | undefined>();
    this.calls.push({ id: record.id, signal, answer });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const done = () => this.inFlight--;
    answer.promise.then(done, done);
    return answer.promise;
  };

  get ids(): string[] {
    return this.calls.map((c) => c.id);
  }

  answer(id: string): void {
    this.calls.find((c) => c.id === id)!.answer.resolve({ id, detail: true });
  }

  skip(id: string): void {
    this.calls.find((c) => c.id === id)!.answer.resolve(undefined);
  }
}

/** Consumes a generator in the background, keeping every batch. */
function drain<T>(gen: AsyncGenerator<T[]>) {
  const batches: T[][] = [];
  const done = (async () => {
    for await (const batch of gen) batches.push(batch);
  })();
  done.catch(() => {});
  return { batches, done };
}

async function* listOf(...pages: (ApiRecord[] | Promise<ApiRecord[]>)[]) {
  for (const page of pages) yield await page;
}

describe('detailsInOrder', () => {
  it('keeps at most limit() requests in flight and yields in list order, whatever order they complete in', async () => {
    const f = new ManualFetch();
    const out = drain(
      detailsInOrder(listOf(records('a', 'b', 'c', 'd', 'e', 'f', 'g')), f.fetch, () => 3),
    );
    await flush();
    expect(f.ids).toEqual(['a', 'b', 'c']);
    f.answer('c');
    f.answer('b');
    await flush();
    // b and c arrived, but wait behind a: nothing yielded, no new request.
    expect(out.batches).toEqual([]);
    expect(f.ids).toEqual(['a', 'b', 'c']);
    f.answer('a');
    await flush();
    expect(out.batches.map((b) => b.map((r) => r.id))).toEqual([['a', 'b', 'c']]);
    expect(f.ids).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    for (const id of ['f', 'e', 'd', 'g']) {
      await flush();
      f.answer(id);
    }
    await out.done;
    expect(out.batches.flat().map((r) => r.id)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    expect(f.maxInFlight).toBe(3);
  });

  it('is pipelined with the list: details of a page are requested and yielded before the next page arrives', async () => {
    const f = new ManualFetch();
    const page2 = deferred<ApiRecord[]>();
    const out = drain(detailsInOrder(listOf(records('a', 'b'), page2.promise), f.fetch, () => 4));
    await flush();
    expect(f.ids).toEqual(['a', 'b']);
    f.answer('a');
    f.answer('b');
    await flush();
    expect(out.batches.flat().map((r) => r.id)).toEqual(['a', 'b']);
    page2.resolve(records('c'));
    await flush();
    expect(f.ids).toEqual(['a', 'b', 'c']);
    f.answer('c');
    await out.done;
    expect(out.batches.flat().map((r) => r.id)).toEqual(['a', 'b', 'c']);
  });

  it('skips a record whose fetch answers undefined', async () => {
    const f = new ManualFetch();
    const out = drain(detailsInOrder(listOf(records('a', 'b', 'c')), f.fetch, () => 2));
    await flush();
    f.answer('a');
    f.skip('b');
    await flush();
    f.answer('c');
    await out.done;
    expect(out.batches.flat().map((r) => r.id)).toEqual(['a', 'c']);
  });

  it('asks for no more than a lowered limit from the next request on', async () => {
    const f = new ManualFetch();
    let limit = 4;
    const out = drain(
      detailsInOrder(listOf(records('a', 'b', 'c', 'd', 'e', 'f')), f.fetch, () => limit),
    );
    await flush();
    expect(f.ids).toEqual(['a', 'b', 'c', 'd']);
    limit = 1;
    for (const id of ['a', 'b', 'c']) f.answer(id);
    await flush();
    expect(f.inFlight).toBe(1); // d only: nothing new while one is in flight
    f.answer('d');
    await flush();
    expect(f.ids).toEqual(['a', 'b', 'c', 'd', 'e']);
    f.answer('e');
    await flush();
    f.answer('f');
    await out.done;
    expect(out.batches.flat()).toHaveLength(6);
  });

  it('on a failure cancels the requests in flight, closes the list and throws it', async () => {
    const f = new ManualFetch();
    let listClosed = false;
    async function* list() {
      try {
        yield records('a', 'b', 'c');
        yield records('d');
      } finally {
        listClosed = true;
      }
    }
    const out = drain(detailsInOrder(list(), f.fetch, () => 3));
    await flush();
    f.calls[1].answer.reject(new Error('offer details of b: HTTP 401'));
    f.answer('a');
    await expect(out.done).rejects.toThrow('offer details of b: HTTP 401');
    expect(out.batches.flat().map((r) => r.id)).toEqual([]); // a came in the failed batch
    expect(f.calls[2].signal.aborted).toBe(true);
    expect(listClosed).toBe(true);
    expect(f.ids).toEqual(['a', 'b', 'c']); // d never asked for
  });

  it('throws the list failure and cancels the details in flight', async () => {
    const f = new ManualFetch();
    const page2 = deferred<ApiRecord[]>();
    const out = drain(detailsInOrder(listOf(records('a'), page2.promise), f.fetch, () => 2));
    await flush();
    page2.reject(new Error('page 1 failed'));
    await expect(out.done).rejects.toThrow('page 1 failed');
    expect(f.calls[0].signal.aborted).toBe(true);
  });
});

describe('offer_details stream (injected fetches)', () => {
  const config: GoKartConfig = resolveConfig(
    validateConfig({ api_token: 't', api_url: 'http://127.0.0.1:9', page_size: 2, concurrency: 2 }),
  );
  /** A list of `ids`, two a page. */
  const listing =
    (ids: string[], asked: number[] = []): FetchPage =>
    ({ page }) => {
      asked.push(page);
      const result: OffersPage = {
        pageIndex: page,
        pageSize: 2,
        totalCount: ids.length,
        totalPages: Math.ceil(ids.length / 2),
        hasNextPage: (page + 1) * 2 < ids.length,
        items: records(...ids.slice(page * 2, page * 2 + 2)),
      };
      return Promise.resolve(result);
    };
  const notFound = (q: ObjectQuery) =>
    new ApiError(`GoKart has no offer details of ${q.id} (HTTP 404)`, 'config_error', 404);

  async function readAll(fetchPage: FetchPage, fetchObject: FetchObject) {
    const logs: string[] = [];
    const read = offerDetails.open({
      config,
      syncMode: SyncMode.FULL_REFRESH,
      state: undefined,
      fetchPage,
      fetchObject,
      hooks: { log: (level, message) => logs.push(`${level} ${message}`) },
    });
    const out: ApiRecord[] = [];
    for await (const batch of read.batches) out.push(...batch);
    return { out, logs, read };
  }

  it('asks for each listed offer at its own path and emits the details in list order', async () => {
    const asked: string[] = [];
    const ids = ['o1', 'o2', 'o/3', 'o4', 'o5'];
    const { out, read } = await readAll(listing(ids), (q) => {
      asked.push(q.path);
      return Promise.resolve({ id: q.id, payoutId: `p-${q.id}` });
    });
    expect(out.map((r) => r.id)).toEqual(ids);
    expect(asked).toContain('/api/v1/sdk-offer-management/partner/o%2F3');
    expect(read.stats.requests).toBe(3 + 5); // 3 list pages, 5 details
    expect(read.finalState()).toEqual({});
  });

  it('skips an offer whose details answer 404 with one WARN naming it', async () => {
    const { out, logs } = await readAll(listing(['o1', 'o2', 'o3']), (q) =>
      q.id === 'o2' ? Promise.reject(notFound(q)) : Promise.resolve({ id: q.id }),
    );
    expect(out.map((r) => r.id)).toEqual(['o1', 'o3']);
    expect(logs).toEqual([
      'warn offer o2 was withdrawn between the list and its details (404); skipped',
    ]);
  });

  it(`fails when the first ${MISSING_ENDPOINT_AFTER} details all answer 404: the endpoint is missing`, async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `o${i}`);
    await expect(readAll(listing(ids), (q) => Promise.reject(notFound(q)))).rejects.toMatchObject({
      failureType: 'config_error',
      message: expect.stringContaining('offer-details endpoint seems missing'),
    });
  });

  it('fails on any other error, naming the offer', async () => {
    await expect(
      readAll(listing(['o1', 'o2']), (q) =>
        Promise.reject(
          new ApiError(`Reading offer details of ${q.id} failed: HTTP 500`, 'transient_error', 500),
        ),
      ),
    ).rejects.toThrow('Reading offer details of o1 failed: HTTP 500');
  });

  it('reads every page of the list (no early stop) and accepts no state but an object', async () => {
    const asked: number[] = [];
    await readAll(listing(['o1', 'o2', 'o3', 'o4', 'o5'], asked), (q) =>
      Promise.resolve({ id: q.id }),
    );
    expect([...new Set(asked)].sort()).toEqual([0, 1, 2]);
    expect(offerDetails.parseState({ anything: 1 })).toEqual({});
    expect(() => offerDetails.parseState(5)).toThrow(
      "offer_details stream's state must be an object",
    );
  });
});
