import { Offer, OffersPage, PageRequest } from '../src/api/types';
import { ApiError } from '../src/errors';
import { ScanPlan } from '../src/read/scan/scanner';
import { offersScanner } from '../src/streams/offers';

type OffersPlan = Omit<ScanPlan, 'time'>;

const DAY = 86_400_000;
const T0 = Date.parse('2025-01-01T00:00:00Z');

/** offer i launched i days after T0, created in the same order. */
function offer(i: number): Offer {
  return { id: `o${i}`, launchDate: new Date(T0 + i * DAY).toISOString() };
}

/** An in-memory list endpoint with PagedList semantics, for testing the scanner alone. */
class FakeApi {
  inventory: Offer[];
  requests: PageRequest[] = [];
  inFlight = 0;
  maxInFlight = 0;
  sort: 'honour' | 'ignore' | 'reject' = 'honour';
  latency = (_page: number) => 0;
  beforeServe?: (req: PageRequest, served: number) => void;
  /** Changes a page before it is served: a hostile or broken server. */
  tamper?: (page: OffersPage, req: PageRequest) => OffersPage;
  /** Gives up after this many requests, so a scan that would loop for ever fails fast. */
  maxRequests = 10_000;

  constructor(
    count: number,
    readonly pageSize: number,
  ) {
    // Default order: newest created first.
    this.inventory = Array.from({ length: count }, (_, i) => offer(i)).reverse();
  }

  fetch = async (req: PageRequest, signal: AbortSignal): Promise<OffersPage> => {
    this.requests.push(req);
    if (this.requests.length > this.maxRequests)
      throw new Error('the fake API gave up: too many requests');
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((r) => setTimeout(r, this.latency(req.page)));
      if (signal.aborted) throw new ApiError('cancelled', 'system_error');
      if (req.newestLaunchFirst && this.sort === 'reject')
        throw new ApiError('bad orderby', 'system_error', 400, req.page);
      this.beforeServe?.(req, this.requests.length);
      let list = this.inventory;
      if (req.newestLaunchFirst && this.sort === 'honour') {
        list = [...list].sort((a, b) => Date.parse(b.launchDate!) - Date.parse(a.launchDate!));
      }
      const totalCount = list.length;
      const totalPages = Math.ceil(totalCount / this.pageSize);
      const page = {
        pageIndex: req.page,
        pageSize: this.pageSize,
        totalCount,
        totalPages,
        hasNextPage: req.page + 1 < totalPages,
        items: list.slice(req.page * this.pageSize, (req.page + 1) * this.pageSize),
      };
      return this.tamper ? this.tamper(page, req) : page;
    } finally {
      this.inFlight--;
    }
  };
}

async function scanAll(api: FakeApi, plan: OffersPlan, scanner = offersScanner(api.fetch, plan)) {
  const ids: string[] = [];
  for await (const batch of scanner.scan()) ids.push(...batch.map((o) => o.id));
  return { ids, scanner };
}

const ids = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, k) => `o${from + k}`);

describe('OfferScanner full scans', () => {
  it.each([0, 1, 99, 100, 101, 250])(
    'reads all %i offers exactly once, in page order',
    async (n) => {
      const api = new FakeApi(n, 10);
      const { ids: got } = await scanAll(api, { concurrency: 4 });
      expect(got).toEqual(ids(0, n).reverse());
      // An exactly-full last page ends the scan without asking for an empty page.
      expect(api.requests.length).toBe(Math.max(1, Math.ceil(n / 10)));
    },
  );

  it('keeps at most `concurrency` requests in flight and still emits in order', async () => {
    const api = new FakeApi(200, 10);
    api.latency = (page) => (page % 3) * 5; // later pages often finish first
    const { ids: got } = await scanAll(api, { concurrency: 3 });
    expect(got).toEqual(ids(0, 200).reverse());
    expect(api.maxInFlight).toBe(3);
  });

  it('lowers concurrency when told of a rate limit', async () => {
    const api = new FakeApi(200, 10);
    api.latency = () => 2;
    const scanner = offersScanner(api.fetch, { concurrency: 8 });
    scanner.lowerConcurrency();
    scanner.lowerConcurrency();
    await scanAll(api, { concurrency: 8 }, scanner);
    expect(scanner.concurrency).toBe(2);
    expect(api.maxInFlight).toBeLessThanOrEqual(2);
  });

  it('emits offers added at the front during a scan at most once', async () => {
    const api = new FakeApi(100, 10);
    let next = 1000;
    api.beforeServe = () => api.inventory.unshift(offer(next++)); // one new offer before every page
    const { ids: got } = await scanAll(api, { concurrency: 1 });
    expect(new Set(got).size).toBe(got.length);
    expect(got).toEqual(expect.arrayContaining(ids(0, 100)));
  });

  it('re-reads when offers are deleted mid-scan, so none that stayed is missed', async () => {
    const api = new FakeApi(100, 10);
    api.beforeServe = (_req, served) => {
      if (served === 4) api.inventory.splice(0, 15); // delete 15 already-read offers
    };
    const { ids: got, scanner } = await scanAll(api, { concurrency: 1 });
    const survivors = api.inventory.map((o) => o.id);
    expect(got).toEqual(expect.arrayContaining(survivors));
    expect(new Set(got).size).toBe(got.length);
    expect(scanner.stats.passes).toBe(2);
  });

  it('without the re-read, that deletion would hide offers (the test can fail)', async () => {
    const api = new FakeApi(100, 10);
    api.beforeServe = (_req, served) => {
      if (served === 4) api.inventory.splice(0, 15);
    };
    const got: string[] = [];
    const scan = offersScanner(api.fetch, { concurrency: 1, maxRescans: 0 }).scan();
    await expect(
      (async () => {
        for await (const batch of scan) got.push(...batch.map((o) => o.id));
      })(),
    ).rejects.toThrow('kept changing');
    const survivors = api.inventory.map((o) => o.id);
    expect(got.length).toBeGreaterThan(50);
    expect(survivors.every((id) => got.includes(id))).toBe(false);
  });

  it('re-reads when offers are added while pages are fetched concurrently', async () => {
    const api = new FakeApi(100, 10);
    api.latency = (page) => (page === 3 ? 30 : 1); // page 3 answers after page 4
    let added = false;
    api.beforeServe = (req) => {
      if (req.page === 3 && !added) {
        added = true;
        api.inventory.unshift(offer(500), offer(501)); // shifts page 3's tail onto page 4, already read
      }
    };
    const { ids: got, scanner } = await scanAll(api, { concurrency: 4 });
    expect(got).toEqual(expect.arrayContaining(api.inventory.map((o) => o.id)));
    expect(scanner.stats.passes).toBe(2);
  });

  it('gives up with a transient error when the inventory never settles', async () => {
    const api = new FakeApi(100, 10);
    api.beforeServe = (req) => {
      if (req.page === 2) api.inventory.pop();
    };
    await expect(scanAll(api, { concurrency: 1, maxRescans: 2 })).rejects.toMatchObject({
      failureType: 'transient_error',
      message: expect.stringContaining('kept changing during 3 full reads'),
    });
  });

  it('refuses a server that ignores the page parameter instead of looping', async () => {
    const api = new FakeApi(50, 10);
    const stuck = async (req: PageRequest, signal: AbortSignal) => ({
      ...(await api.fetch({ ...req, page: 0 }, signal)),
      pageIndex: req.page,
    });
    await expect(
      scanAll(api, { concurrency: 1 }, offersScanner(stuck, { concurrency: 1 })),
    ).rejects.toThrow('same offers for pages 0 and 1');
  });
});

describe('OfferScanner proves a scan complete', () => {
  const pageRequests = (api: FakeApi, page: number) =>
    api.requests.filter((r) => r.page === page).length;

  it('asks again for a page that came back empty once, and reads every offer', async () => {
    const api = new FakeApi(100, 10);
    let emptied = false;
    api.tamper = (page) => {
      if (page.pageIndex !== 3 || emptied) return page;
      emptied = true;
      return { ...page, items: [] };
    };
    const { ids: got, scanner } = await scanAll(api, { concurrency: 4 });
    expect(got).toEqual(ids(0, 100).reverse());
    expect(pageRequests(api, 3)).toBe(2);
    expect(scanner.stats.passes).toBe(1);
  });

  it('re-reads the pass when a page stays short through its retries', async () => {
    const api = new FakeApi(100, 10);
    let served = 0;
    api.tamper = (page) =>
      page.pageIndex === 3 && ++served <= 3 ? { ...page, items: page.items.slice(0, 4) } : page;
    const { ids: got, scanner } = await scanAll(api, { concurrency: 1 });
    expect(got.sort()).toEqual(ids(0, 100).sort());
    expect(pageRequests(api, 3)).toBe(4); // 1 + 2 retries in pass 1, then pass 2
    expect(scanner.stats.passes).toBe(2);
  });

  it.each([
    ['short', 3],
    ['empty', 0],
  ])('fails, saying what did not add up, when a middle page stays %s', async (_name, keep) => {
    const api = new FakeApi(100, 10);
    api.tamper = (page) =>
      page.pageIndex === 2 ? { ...page, items: page.items.slice(0, keep) } : page;
    await expect(scanAll(api, { concurrency: 4 })).rejects.toMatchObject({
      failureType: 'transient_error',
      message: expect.stringContaining(
        `did not add up in 4 full reads (page 2 had ${keep} of 10 offers (pageSize 10, totalCount 100))`,
      ),
    });
    expect(pageRequests(api, 2)).toBe(4 * 3); // 4 passes, each asking 3 times
  });

  it('fails when the pages end before covering totalCount', async () => {
    const api = new FakeApi(100, 10);
    api.tamper = (page) => (page.pageIndex === 4 ? { ...page, hasNextPage: false } : page);
    await expect(scanAll(api, { concurrency: 2 })).rejects.toMatchObject({
      failureType: 'transient_error',
      message: expect.stringContaining('pages 0–4 cover 50 of totalCount 100'),
    });
  });

  it('reads no more pages than totalCount allows, and fails if totalPages claims more', async () => {
    const api = new FakeApi(100, 10);
    // Past page 9, this server answers earlier pages again and claims 10 million pages.
    const looping = async (req: PageRequest, signal: AbortSignal) => ({
      ...(await api.fetch({ ...req, page: req.page % 10 }, signal)),
      pageIndex: req.page,
      totalPages: 10_000_000,
      hasNextPage: true,
    });
    await expect(
      scanAll(api, { concurrency: 4 }, offersScanner(looping, { concurrency: 4 })),
    ).rejects.toMatchObject({
      failureType: 'transient_error',
      message: expect.stringContaining(
        'totalCount 100 ends at page 9, but GoKart says more pages follow (totalPages 10000000)',
      ),
    });
    expect(api.requests).toHaveLength(4 * 10);
  });

  it('fails when a page holds more offers than its totalCount allows', async () => {
    const api = new FakeApi(100, 10);
    api.tamper = (page) => ({ ...page, totalCount: 5 }); // totalPages and hasNextPage say 10 pages
    await expect(scanAll(api, { concurrency: 1 })).rejects.toMatchObject({
      failureType: 'transient_error',
      message: expect.stringContaining('page 0 had 10 of 5 offers (pageSize 10, totalCount 5)'),
    });
  });

  it('stops a server that alternates pages 0 and 1 under a huge totalPages', async () => {
    const api = new FakeApi(100, 10);
    const alternating = async (req: PageRequest, signal: AbortSignal) => ({
      ...(await api.fetch({ ...req, page: req.page % 2 }, signal)),
      pageIndex: req.page,
      totalCount: 100_000_000,
      totalPages: 10_000_000,
      hasNextPage: true,
    });
    await expect(
      scanAll(api, { concurrency: 4 }, offersScanner(alternating, { concurrency: 4 })),
    ).rejects.toMatchObject({
      failureType: 'transient_error',
      message: expect.stringContaining('distinct ids 20 of 30 expected: pages 0–2 repeat offers'),
    });
    expect(api.requests.length).toBeLessThanOrEqual(4 * 6); // 4 passes of at most 6 pages
  });

  it('a sorted scan that stops early proves the pages it read', async () => {
    const api = new FakeApi(250, 10);
    api.tamper = (page) => (page.pageIndex === 1 ? { ...page, items: [] } : page);
    await expect(scanAll(api, { concurrency: 4, threshold: T0 + 190 * DAY })).rejects.toMatchObject(
      {
        failureType: 'transient_error',
        message: expect.stringContaining('page 1 had 0 of 10 offers'),
      },
    );
  });
});

describe('OfferScanner with a launch-date threshold', () => {
  const threshold = T0 + 190 * DAY; // offers o190..o249 are wanted

  it('asks newest-launch-first and stops at the first page reaching below the threshold', async () => {
    const api = new FakeApi(250, 10);
    const { ids: got, scanner } = await scanAll(api, { concurrency: 4, threshold });
    expect(got.sort()).toEqual(ids(190, 250).sort());
    expect(api.requests.every((r) => r.newestLaunchFirst)).toBe(true);
    // 60 wanted offers = pages 0..5, page 6 proves the stop: 7 pages, none wasted beyond that
    expect(api.requests.length).toBe(7);
    expect(scanner.stats.earlyStop).toBe(true);
  });

  it('requests one page when the first page already reaches below the threshold', async () => {
    const api = new FakeApi(250, 100);
    await scanAll(api, { concurrency: 4, threshold: T0 + 240 * DAY });
    expect(api.requests.length).toBe(1);
  });

  it('falls back to a full scan when the server ignores the sort', async () => {
    const api = new FakeApi(250, 10);
    api.sort = 'ignore';
    // Creation order: page 0 (o249..o240) looks sorted; shuffle one old offer into page 2 to prove the check.
    const old = api.inventory.splice(200, 1)[0];
    api.inventory.splice(25, 0, old);
    const { ids: got, scanner } = await scanAll(api, { concurrency: 4, threshold });
    expect(got.sort()).toEqual(ids(190, 250).sort());
    expect(scanner.stats.earlyStop).toBe(false);
    expect(api.requests.length).toBe(25);
  });

  it('catches a wanted offer the ignored sort put on a late page', async () => {
    const api = new FakeApi(250, 10);
    api.sort = 'ignore';
    api.inventory = api.inventory.reverse(); // oldest first: looks unsorted at once
    const { ids: got } = await scanAll(api, { concurrency: 2, threshold });
    expect(got.sort()).toEqual(ids(190, 250).sort());
  });

  it('falls back to the default order when the sort is rejected with 400', async () => {
    const api = new FakeApi(250, 10);
    api.sort = 'reject';
    const { ids: got } = await scanAll(api, { concurrency: 4, threshold });
    expect(got.sort()).toEqual(ids(190, 250).sort());
    expect(api.requests.filter((r) => !r.newestLaunchFirst).length).toBe(25);
  });

  it('emits offers with a missing launch date rather than lose them', async () => {
    const api = new FakeApi(30, 10);
    api.inventory[5] = { id: 'undated', launchDate: null };
    const { ids: got, scanner } = await scanAll(api, { concurrency: 2, threshold: T0 + 22 * DAY });
    expect(got).toContain('undated');
    // ...and it does not make the scanner think the server ignored the sort.
    expect(scanner.stats.earlyStop).toBe(true);
    expect(api.requests).toHaveLength(1);
  });
});

describe('OfferScanner cancellation', () => {
  it('cancels the requests still in flight when a sorted scan stops early', async () => {
    // Launch dates fall slowly on page 0 and fast afterwards, so the scanner
    // expects to need more pages than it does and has some in flight at the stop.
    const launches = [
      ...Array.from({ length: 10 }, (_, i) => 1000 - i),
      ...Array.from({ length: 90 }, (_, i) => 980 - i * 10),
    ];
    const all: Offer[] = launches.map((d, i) => ({
      id: `c${i}`,
      launchDate: new Date(T0 + d * DAY).toISOString(),
    }));
    const aborted: number[] = [];
    const requested: number[] = [];
    const fetch = async (req: PageRequest, signal: AbortSignal): Promise<OffersPage> => {
      requested.push(req.page);
      await new Promise((r) => setTimeout(r, req.page === 0 ? 1 : req.page * 20));
      if (signal.aborted) {
        aborted.push(req.page);
        throw new ApiError('cancelled', 'system_error');
      }
      return {
        pageIndex: req.page,
        pageSize: 10,
        totalCount: 100,
        totalPages: 10,
        hasNextPage: req.page < 9,
        items: all.slice(req.page * 10, req.page * 10 + 10),
      };
    };
    const scanner = offersScanner(fetch, { concurrency: 4, threshold: T0 + 975 * DAY });
    const got: string[] = [];
    for await (const batch of scanner.scan()) got.push(...batch.map((o) => o.id));
    await new Promise((r) => setTimeout(r, 120));
    expect(got).toEqual([...ids(0, 0), ...Array.from({ length: 11 }, (_, i) => `c${i}`)]);
    expect(scanner.stats.earlyStop).toBe(true);
    expect(requested.length).toBeGreaterThan(2);
    // every page requested after the stopping page 1 was cancelled
    expect(aborted.sort()).toEqual(requested.filter((p) => p > 1).sort());
  });
});
