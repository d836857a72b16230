import * as http from 'node:http';

import { Fault, generateOffers, GoKartSimulator, Offer, OFFERS_PATH } from '../tools/simulator';

import {
  apiGet,
  control,
  Envelope,
  offer,
  settled,
  startSim,
  untilLogged,
  UUID_V4,
} from './simulator-helpers';

type Query = Record<string, string | number | boolean>;

const API_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$/;
const DAY_MS = 86_400_000;

function listUrl(sim: GoKartSimulator, query: Query = {}): URL {
  const url = new URL(OFFERS_PATH, sim.url);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, String(v));
  return url;
}

/** token null = no Authorization header. */
function request(
  sim: GoKartSimulator,
  query: Query = {},
  opts: { token?: string | null; signal?: AbortSignal } = {},
): Promise<Response> {
  return apiGet(sim, listUrl(sim, query), opts);
}

async function getPage(
  sim: GoKartSimulator,
  query: Query = {},
  opts: { token?: string | null } = {},
): Promise<{ status: number; body: Envelope }> {
  const res = await request(sim, query, opts);
  return { status: res.status, body: (await res.json()) as Envelope };
}

async function scan(sim: GoKartSimulator, query: Query = {}): Promise<Offer[]> {
  const items: Offer[] = [];
  for (let page = 0; ; page++) {
    const { body } = await getPage(sim, { page_size: 100, ...query, page });
    items.push(...body.data!.items);
    if (!body.data!.hasNextPage) return items;
  }
}

describe('envelope and paging', () => {
  test('pages follow PagedList math and carry the documented envelope', async () => {
    const sim = await startSim({ offers: 25 });
    const first = await getPage(sim, { page: 0, page_size: 10 });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      isSuccessful: true,
      responseTitle: 'Success',
      responseType: 'Success',
      messages: [],
    });
    expect(first.body.responseId).toMatch(UUID_V4);
    expect(first.body.data).toMatchObject({
      pageIndex: 0,
      pageSize: 10,
      totalCount: 25,
      totalPages: 3,
      indexFrom: 0,
      hasPreviousPage: false,
      hasNextPage: true,
    });
    expect(first.body.data!.items).toHaveLength(10);
    // createdAt stays hidden: only the documented fields are sent.
    expect(Object.keys(first.body.data!.items[0]).sort()).toEqual(
      ['budgetAmount', 'categories', 'endDate', 'id', 'launchDate', 'name', 'offerType'].sort(),
    );

    const last = await getPage(sim, { page: 2, page_size: 10 });
    expect(last.body.data).toMatchObject({ hasPreviousPage: true, hasNextPage: false });
    expect(last.body.data!.items).toHaveLength(5);

    const past = await getPage(sim, { page: 3, page_size: 10 });
    expect(past.status).toBe(200);
    expect(past.body.data).toMatchObject({ items: [], totalPages: 3, hasNextPage: false });

    const exact = await getPage(sim, { page: 4, page_size: 5 });
    expect(exact.body.data).toMatchObject({ totalPages: 5, hasNextPage: false });
    expect(exact.body.data!.items).toHaveLength(5);

    const defaults = await getPage(sim);
    expect(defaults.body.data).toMatchObject({ pageIndex: 0, pageSize: 10 });
    expect(sim.requests[sim.requests.length - 1]).toEqual({
      kind: 'list',
      page: 0,
      pageSize: 10,
      status: 200,
    });
  });

  test('a full scan returns the default order (CreatedAt desc) without gaps or repeats', async () => {
    const sim = await startSim({ offers: 250 });
    const items = await scan(sim);
    expect(items).toEqual(sim.offers());
    expect(new Set(items.map((o) => o.id)).size).toBe(250);
  });

  test('zero offers gives totalPages 0', async () => {
    const sim = await startSim({ offers: 0 });
    const { status, body } = await getPage(sim);
    expect(status).toBe(200);
    expect(body.data).toMatchObject({
      totalCount: 0,
      totalPages: 0,
      items: [],
      hasPreviousPage: false,
      hasNextPage: false,
    });
  });

  test.each<[Query, RegExp]>([
    [{ page_size: 101 }, /page_size/],
    [{ page_size: 0 }, /page_size/],
    [{ page_size: 'ten' }, /page_size/],
    [{ page: -1 }, /page/],
    [{ page: '1.5' }, /page/],
    [{ orderby: 'Popularity' }, /Invalid orderby/],
    [{ order_asc: 'yes' }, /order_asc/],
  ])('bad query %j → 400 envelope', async (query, message) => {
    const sim = await startSim({ offers: 5 });
    const { status, body } = await getPage(sim, query);
    expect(status).toBe(400);
    expect(body).toMatchObject({ data: null, isSuccessful: false, responseType: 'Error' });
    expect(body.messages.join(' ')).toMatch(message);
    expect(sim.requests[0].status).toBe(400);
  });
});

describe('auth', () => {
  test('missing or wrong token → 401, forbidden token → 403, both enveloped', async () => {
    const sim = await startSim({ offers: 5 });
    for (const [token, status] of [
      [null, 401],
      ['nope', 401],
      ['sim-forbidden', 403],
    ] as const) {
      const res = await getPage(sim, {}, { token });
      expect(res.status).toBe(status);
      expect(res.body).toMatchObject({ data: null, isSuccessful: false });
      expect(res.body.messages.length).toBeGreaterThan(0);
    }
    const bearer = await fetch(listUrl(sim), { headers: { Authorization: 'Bearer sim-token' } });
    expect(bearer.status).toBe(401);
    expect(sim.requests.map((r) => r.status)).toEqual([401, 401, 403, 401]);
  });
});

describe('sorting and filters', () => {
  test('orderby LaunchDate sorts asc and desc, ties by id', async () => {
    const sim = await startSim({ offers: 150 });
    // Same launchDate for three offers: their order must still be total and stable.
    sim.add(['t-c', 't-a', 't-b'].map((id) => offer(id)));
    const asc = await scan(sim, { orderby: 'LaunchDate', order_asc: true });
    const desc = await scan(sim, { orderby: 'launchdate', order_asc: false });
    const launch = (o: Offer): number => Date.parse(o.launchDate);
    expect(asc).toHaveLength(153);
    for (let i = 1; i < asc.length; i++) {
      expect(launch(asc[i - 1])).toBeLessThanOrEqual(launch(asc[i]));
      expect(launch(desc[i - 1])).toBeGreaterThanOrEqual(launch(desc[i]));
    }
    const ties = (list: Offer[]): string[] =>
      list.filter((o) => o.id.startsWith('t-')).map((o) => o.id);
    expect(ties(asc)).toEqual(['t-a', 't-b', 't-c']);
    expect(ties(desc)).toEqual(['t-a', 't-b', 't-c']);
    expect(sim.requests[0]).toMatchObject({ orderby: 'LaunchDate', orderAsc: true });
  });

  test('other fields sort too; EndDate nulls are lowest', async () => {
    const sim = await startSim({ offers: 60 });
    const byBudget = await scan(sim, { orderby: 'BudgetAmount', order_asc: true });
    expect(byBudget.map((o) => o.budgetAmount)).toEqual(
      sim
        .offers()
        .map((o) => o.budgetAmount)
        .sort((a, b) => a - b),
    );
    const byEnd = await scan(sim, { orderby: 'EndDate', order_asc: true });
    const firstDated = byEnd.findIndex((o) => o.endDate !== null);
    expect(byEnd.slice(0, firstDated).every((o) => o.endDate === null)).toBe(true);
    expect(byEnd.slice(firstDated).every((o) => o.endDate !== null)).toBe(true);
    const byName = await scan(sim, { orderby: 'Name', order_asc: false });
    expect(byName[0].name.toLowerCase() >= byName[59].name.toLowerCase()).toBe(true);
  });

  test("sortMode 'ignore' serves CreatedAt desc whatever is asked", async () => {
    const sim = await startSim({ offers: 30, sortMode: 'ignore' });
    const ids = (await scan(sim, { orderby: 'LaunchDate', order_asc: true })).map((o) => o.id);
    expect(ids).toEqual(sim.offers().map((o) => o.id));
    expect((await getPage(sim, { orderby: 'Bogus' })).status).toBe(200);
  });

  test("sortMode 'reject' answers 400 for anything but CreatedAt", async () => {
    const sim = await startSim({ offers: 30 });
    sim.setSortMode('reject');
    expect(sim.options.sortMode).toBe('reject');
    const rejected = await getPage(sim, { orderby: 'LaunchDate' });
    expect(rejected.status).toBe(400);
    expect(rejected.body.messages[0]).toMatch(/^Invalid orderby/);
    const asc = await scan(sim, { orderby: 'CreatedAt', order_asc: true });
    expect(asc.map((o) => o.id)).toEqual(
      sim
        .offers()
        .map((o) => o.id)
        .reverse(),
    );
  });

  test('filter.search is a case-insensitive substring of name; offer_type is exact', async () => {
    const sim = await startSim({ offers: 200 });
    const all = sim.offers();
    const cash = await scan(sim, { 'filter.search': 'CASHBACK' });
    expect(cash.map((o) => o.id)).toEqual(
      all.filter((o) => o.name.toLowerCase().includes('cashback')).map((o) => o.id),
    );
    expect(cash.length).toBeGreaterThan(0);

    const multi = await scan(sim, { 'filter.offer_type': 'MultiEvent' });
    expect(multi.length).toBe(all.filter((o) => o.offerType === 'MultiEvent').length);
    expect(multi.every((o) => o.offerType === 'MultiEvent')).toBe(true);
    const { body } = await getPage(sim, { 'filter.offer_type': 'multievent' });
    expect(body.data!.totalCount).toBe(0);

    const both = await getPage(sim, {
      'filter.search': 'offer 1',
      'filter.offer_type': 'SingleEvent',
      page_size: 100,
    });
    const expected = all.filter(
      (o) => o.name.toLowerCase().includes('offer 1') && o.offerType === 'SingleEvent',
    );
    expect(both.body.data!.totalCount).toBe(expected.length);
    expect(sim.requests[sim.requests.length - 1]).toMatchObject({
      search: 'offer 1',
      offerType: 'SingleEvent',
    });
  });
});

describe('generateOffers', () => {
  test('is deterministic and shaped like the API', () => {
    const a = generateOffers(1000, 7);
    expect(generateOffers(1000, 7)).toEqual(a);
    expect(generateOffers(10, 7, { firstIndex: 990 })).toEqual(a.slice(990));
    for (const o of a) {
      expect(o.id).toMatch(UUID_V4);
      expect(o.launchDate).toMatch(API_DATE);
      expect(o.categories.length).toBeLessThanOrEqual(3);
      expect(new Set(o.categories).size).toBe(o.categories.length);
      expect(['SingleEvent', 'MultiEvent']).toContain(o.offerType);
      const launch = Date.parse(o.launchDate);
      expect(launch).toBeGreaterThanOrEqual(Date.UTC(2016, 0, 1));
      expect(launch).toBeLessThanOrEqual(Date.UTC(2026, 0, 1));
      if (o.endDate !== null) {
        expect(o.endDate).toMatch(API_DATE);
        const days = (Date.parse(o.endDate) - launch) / DAY_MS;
        expect(days).toBeGreaterThanOrEqual(30);
        expect(days).toBeLessThanOrEqual(365);
      }
      expect(JSON.stringify(o)).not.toMatch(/createdAt/i);
    }
    const nullEnd = a.filter((o) => o.endDate === null).length / a.length;
    expect(nullEnd).toBeGreaterThan(0.3);
    expect(nullEnd).toBeLessThan(0.5);
    expect(a.some((o) => !Number.isInteger(o.budgetAmount))).toBe(true);
    expect(a.some((o) => Number.isInteger(o.budgetAmount))).toBe(true);
    expect(new Set(a.map((o) => o.id)).size).toBe(1000);
  });

  test('different seeds and prefixes give disjoint ids; from/to bound launchDate', () => {
    const ids = new Set(generateOffers(2000, 1).map((o) => o.id));
    for (const other of [generateOffers(2000, 2), generateOffers(2000, 1, { idPrefix: 'x-' })]) {
      expect(other.some((o) => ids.has(o.id))).toBe(false);
    }
    const from = new Date('2024-05-01T00:00:00Z');
    const to = new Date('2024-05-02T00:00:00Z');
    for (const o of generateOffers(200, 3, { from, to })) {
      expect(Date.parse(o.launchDate)).toBeGreaterThanOrEqual(from.getTime());
      expect(Date.parse(o.launchDate)).toBeLessThanOrEqual(to.getTime());
    }
  });
});

describe('inventory changes', () => {
  test('add / update / remove; items pass through exactly as stored', async () => {
    const sim = await startSim({ offers: 20 });
    sim.add([offer('extra-1', { payout: { amount: 5, currency: 'EUR' }, futureField: [1] })]);
    const first = (await getPage(sim)).body.data!.items[0];
    expect(first).toEqual(
      offer('extra-1', { payout: { amount: 5, currency: 'EUR' }, futureField: [1] }),
    );
    expect(() => sim.add([offer('extra-1')])).toThrow(/duplicate/);

    sim.update('extra-1', { name: 'Renamed', endDate: '2026-02-01T00:00:00+00:00' });
    expect((await getPage(sim)).body.data!.items[0]).toMatchObject({
      name: 'Renamed',
      endDate: '2026-02-01T00:00:00+00:00',
    });
    expect(() => sim.update('missing', {})).toThrow(/unknown id/);

    sim.remove(['extra-1', 'never-existed']);
    const after = await scan(sim);
    expect(after).toHaveLength(20);
    expect(after.some((o) => o.id === 'extra-1')).toBe(false);
  });

  test('cached orders follow single changes (binary-search reindex)', async () => {
    const sim = await startSim({ offers: 300 });
    const query = { orderby: 'LaunchDate', order_asc: true };
    await scan(sim, query); // warm the cache
    const [victim] = sim.offers();
    sim.update(victim.id, { launchDate: '2000-01-01T00:00:00+00:00' });
    sim.add([offer('late', { launchDate: '2099-01-01T00:00:00+00:00' })]);
    sim.remove([sim.offers()[5].id]);
    const asc = await scan(sim, query);
    expect(asc[0].id).toBe(victim.id);
    expect(asc[asc.length - 1].id).toBe('late');
    // Same result as a fresh server-side sort of the current inventory.
    const fresh = [...sim.offers()].sort(
      (a, b) =>
        Date.parse(a.launchDate) - Date.parse(b.launchDate) ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
    expect(asc.map((o) => o.id)).toEqual(fresh.map((o) => o.id));
  });

  test('onRequest runs after a page is computed and before it is sent', async () => {
    const sim = await startSim({ offers: 30 });
    const before = sim.offers();
    const seen: number[] = [];
    sim.onRequest((entry, served) => {
      seen.push(served);
      expect(entry.status).toBe(200);
      if (served === 1) sim.add([offer('new-1')]);
    });
    const page0 = (await getPage(sim, { page: 0, page_size: 10 })).body.data!;
    const page1 = (await getPage(sim, { page: 1, page_size: 10 })).body.data!;
    sim.onRequest(undefined);
    // Page 0 was computed before the insert; page 1 sees it, so an item shifts and repeats.
    expect(page0.items.map((o) => o.id)).toEqual(before.slice(0, 10).map((o) => o.id));
    expect(page1.totalCount).toBe(31);
    expect(page1.items[0].id).toBe(before[9].id);
    expect(seen).toEqual([1, 2]);
  });
});

describe('faults', () => {
  async function expectFaultTimes(
    fault: Fault,
    check: (res: Promise<Response>) => Promise<void>,
  ): Promise<GoKartSimulator> {
    const sim = await startSim({ offers: 15 });
    sim.injectFault({ ...fault, times: 2 });
    await check(request(sim));
    await check(request(sim));
    const ok = await getPage(sim);
    expect(ok.status).toBe(200);
    expect(ok.body.isSuccessful).toBe(true);
    return sim;
  }

  test('status: HTTP status, envelope, Retry-After', async () => {
    await expectFaultTimes(
      { kind: 'status', status: 429, retryAfter: '1', messages: ['slow down'] },
      async (pending) => {
        const res = await pending;
        expect(res.status).toBe(429);
        expect(res.headers.get('retry-after')).toBe('1');
        expect(await res.json()).toMatchObject({
          data: null,
          isSuccessful: false,
          messages: ['slow down'],
        });
      },
    );
  });

  test('reset: the connection drops without an answer', async () => {
    const sim = await expectFaultTimes({ kind: 'reset' }, async (pending) => {
      await expect(pending).rejects.toThrow();
    });
    expect(sim.requests.map((r) => r.status)).toEqual([0, 0, 200]);
  });

  test('truncated: full Content-Length, half a body, then the socket closes', async () => {
    await expectFaultTimes({ kind: 'truncated' }, async (pending) => {
      const res = await pending;
      expect(res.status).toBe(200);
      expect(Number(res.headers.get('content-length'))).toBeGreaterThan(100);
      await expect(res.text()).rejects.toThrow();
    });
  });

  test('unsuccessful: HTTP 200 with isSuccessful false', async () => {
    await expectFaultTimes({ kind: 'unsuccessful', messages: ['try later'] }, async (pending) => {
      const res = await pending;
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        data: null,
        isSuccessful: false,
        messages: ['try later'],
      });
    });
  });

  test('not-json: HTTP 200 with an HTML page', async () => {
    await expectFaultTimes({ kind: 'not-json' }, async (pending) => {
      const res = await pending;
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await res.text()).toBe('<html>maintenance</html>');
    });
  });

  test('slow: answers after delayMs, so a client timeout fires', async () => {
    const sim = await startSim({ offers: 15 });
    sim.injectFault({ kind: 'slow', delayMs: 3_600_000 });
    await expect(request(sim, {}, { signal: AbortSignal.timeout(50) })).rejects.toThrow();
    // A slow request still waits while a later one, with the fault used up, is answered.
    sim.injectFault({ kind: 'slow', delayMs: 500 });
    const slow = settled(request(sim));
    await untilLogged(sim, 2);
    expect((await request(sim)).status).toBe(200);
    expect(slow.done).toBe(false);
    expect((await slow.promise).status).toBe(200);
  });

  test('page-scoped faults, injection order, auth first, clearFaults', async () => {
    const sim = await startSim({ offers: 30 });
    sim.injectFault({ kind: 'status', status: 503, page: 1 });
    sim.injectFault({ kind: 'status', status: 500 });
    sim.injectFault({ kind: 'status', status: 502 });
    expect((await getPage(sim, {}, { token: 'bad' })).status).toBe(401); // faults untouched
    expect((await getPage(sim, { page: 1 })).status).toBe(503);
    expect((await getPage(sim, { page: 1 })).status).toBe(500);
    expect((await getPage(sim, { page: 0 })).status).toBe(502);
    expect((await getPage(sim, { page: 1 })).status).toBe(200);
    sim.injectFault({ kind: 'status', status: 500, times: 5 });
    sim.clearFaults();
    expect((await getPage(sim)).status).toBe(200);
    expect(() => sim.injectFault({ kind: 'status' })).toThrow(/status/);
  });
});

describe('concurrency and connections', () => {
  test('maxInFlight counts concurrent requests held by latency', async () => {
    const sim = await startSim({ offers: 50, latencyMs: 150 });
    const results = await Promise.all(
      [0, 1, 2, 3, 4].map((page) => getPage(sim, { page, page_size: 10 })),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(sim.maxInFlight).toBe(5);
    expect(sim.requests).toHaveLength(5);
    sim.resetStats();
    expect(sim.maxInFlight).toBe(0);
    expect(sim.requests).toHaveLength(0);
    sim.setLatency(0);
    await getPage(sim);
    expect(sim.maxInFlight).toBe(1);
  });

  test('a request held by latency finishes after a later one without', async () => {
    const sim = await startSim({ offers: 50, latencyMs: 500 });
    const held = settled(getPage(sim));
    await untilLogged(sim, 1);
    sim.setLatency(0);
    expect((await getPage(sim)).status).toBe(200);
    expect(held.done).toBe(false);
    expect((await held.promise).status).toBe(200);
  });

  test('keep-alive sockets are reused, and close() does not wait for them', async () => {
    const sim = await startSim({ offers: 5 });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    const get = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = http.get(
          listUrl(sim),
          { agent, headers: { Authorization: 'ApiToken sim-token' } },
          (res) => {
            sockets.add(res.socket);
            res.resume().on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
      });
    expect(await get()).toBe(200);
    expect(await get()).toBe(200);
    expect(sockets.size).toBe(1);
    // The server keeps idle sockets 60 s: close() resolving within the test's timeout
    // shows it closed them rather than waiting.
    await sim.close();
    agent.destroy();
  });

  test('close() does not hang on a request that is still waiting', async () => {
    const sim = await startSim({ offers: 5 });
    sim.injectFault({ kind: 'slow', delayMs: 3_600_000 });
    const outcome = request(sim).then(
      () => 'answered',
      (err: unknown) => String(err),
    );
    await untilLogged(sim, 1);
    // The request waits an hour: close() resolving within the test's timeout shows it
    // does not wait for it; the client sees its connection closed, not an answer.
    await sim.close();
    expect(await outcome).toMatch(/fetch failed/);
  });
});

describe('control endpoints', () => {
  test('stats, reset-stats, offers, latency, faults', async () => {
    const sim = await startSim({ offers: 40 });
    await getPage(sim);
    expect(await (await control(sim, '/_sim/stats')).json()).toEqual({
      requests: 1,
      detailRequests: 0,
      maxInFlight: 1,
      offers: 40,
    });
    expect((await control(sim, '/_sim/reset-stats', {})).status).toBe(200);
    expect(sim.requests).toHaveLength(0);

    const existing = new Set(sim.offers().map((o) => o.id));
    const added = (await (await control(sim, '/_sim/offers', { count: 3, seed: 1 })).json()) as {
      added: number;
      ids: string[];
    };
    expect(added.added).toBe(3);
    expect(added.ids.some((id) => existing.has(id))).toBe(false);
    expect(added.ids.every((id) => UUID_V4.test(id))).toBe(true);
    // New offers are the newest, so they come first in default order.
    expect(
      new Set(
        sim
          .offers()
          .slice(0, 3)
          .map((o) => o.id),
      ),
    ).toEqual(new Set(added.ids));
    const again = (await (await control(sim, '/_sim/offers', { count: 2, seed: 1 })).json()) as {
      ids: string[];
    };
    expect(again.ids.some((id) => added.ids.includes(id) || existing.has(id))).toBe(false);

    expect((await control(sim, '/_sim/latency', { ms: 5 })).status).toBe(200);
    expect(sim.options.latencyMs).toBe(5);
    expect((await control(sim, '/_sim/faults', { kind: 'status', status: 503 })).status).toBe(200);
    expect((await getPage(sim)).status).toBe(503);
    expect((await getPage(sim)).status).toBe(200);
  });

  test('bad input → 400, unknown path → 404, both enveloped', async () => {
    const sim = await startSim({ offers: 1 });
    for (const [path, body] of [
      ['/_sim/offers', '{not json'],
      ['/_sim/offers', { count: -1 }],
      ['/_sim/offers', { count: 1, launchFrom: 'yesterday' }],
      ['/_sim/latency', { ms: 'slow' }],
      ['/_sim/faults', { kind: 'meteor' }],
    ] as const) {
      const res = await control(sim, path, body);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ data: null, isSuccessful: false });
    }
    for (const path of ['/_sim/nothing', '/api/v1/other', `${OFFERS_PATH}/some-id/more`]) {
      const res = await fetch(`${sim.url}${path}`);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ data: null, isSuccessful: false });
    }
    expect(sim.requests).toHaveLength(0);
  });
});

test('serves 100,000 offers with page_size 100', async () => {
  const sim = await startSim({ offers: 100_000 });
  const last = await getPage(sim, { page: 999, page_size: 100 });
  expect(last.body.data).toMatchObject({ totalPages: 1000, hasNextPage: false });
  expect(last.body.data!.items).toHaveLength(100);
});
