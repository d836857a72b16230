import { startSimulatorProcess } from '../tools/run-cli';
import { GoKartSimulator, Offer, OfferDetail, OFFERS_PATH } from '../tools/simulator';

import {
  apiGet,
  control,
  Envelope,
  offer,
  PageData,
  startSim,
  untilLogged,
  UUID_V4,
} from './simulator-helpers';

const detailUrl = (base: string, id: string): string =>
  `${base}${OFFERS_PATH}/${encodeURIComponent(id)}`;

async function getDetail(
  sim: GoKartSimulator,
  id: string,
  opts: { token?: string | null; path?: string } = {},
): Promise<{ status: number; headers: Headers; body: Envelope<OfferDetail> }> {
  const res = await apiGet(sim, opts.path ?? detailUrl(sim.url, id), opts);
  return {
    status: res.status,
    headers: res.headers,
    body: (await res.json()) as Envelope<OfferDetail>,
  };
}

async function listAll(sim: GoKartSimulator): Promise<Offer[]> {
  const res = await apiGet(sim, `${sim.url}${OFFERS_PATH}?page_size=100`);
  return ((await res.json()) as Envelope).data!.items;
}

describe('offer details', () => {
  test('each list offer has a detail: same id, name, categories; documented and nested parts', async () => {
    const sim = await startSim({ offers: 100 });
    const offers = await listAll(sim);
    const details: OfferDetail[] = [];
    for (const o of offers) {
      const { status, body } = await getDetail(sim, o.id);
      expect(status).toBe(200);
      expect(body).toMatchObject({ isSuccessful: true, responseType: 'Success', messages: [] });
      const d = body.data!;
      expect(d).toMatchObject({ id: o.id, name: o.name, categories: o.categories });
      expect(d.payoutId).toMatch(UUID_V4);
      for (const field of ['headline', 'shortDescription', 'keyPoints', 'termsAndDisclaimers']) {
        expect(typeof d[field as keyof OfferDetail]).toBe('string');
      }
      expect(d.offerDetails).toContain('<br/>');
      if (o.offerType === 'SingleEvent' && d.events) expect(d.events).toHaveLength(1);
      details.push(d);
    }
    expect(new Set(details.map((d) => d.payoutId)).size).toBe(100);
    // Sizes vary by offer: some nested parts are empty, some null, some long.
    expect(details.some((d) => d.events?.length === 0)).toBe(true);
    expect(details.some((d) => (d.events?.length ?? 0) >= 3)).toBe(true);
    expect(details.some((d) => d.events === null)).toBe(true);
    expect(details.some((d) => d.creatives?.length === 0)).toBe(true);
    expect(details.some((d) => d.creatives === null)).toBe(true);
    expect(details.some((d) => d.targeting === null)).toBe(true);
    expect(details.some((d) => d.targeting?.countries.length === 0)).toBe(true);
    expect(details.some((d) => d.payout === null)).toBe(true);
    expect(details.find((d) => d.creatives?.length)?.creatives?.[0]).toEqual({
      type: expect.any(String),
      url: expect.stringMatching(/^https:\/\//),
      width: expect.any(Number),
      height: expect.any(Number),
    });

    // Deterministic per (seed, id): a second simulator with the same seed answers the same.
    const again = await startSim({ offers: 100 });
    expect((await getDetail(again, offers[7].id)).body.data).toEqual(details[7]);
    const [a, b] = [await startSim({ seed: 1 }), await startSim({ seed: 2 })];
    for (const s of [a, b]) s.add([offer('same-id')]);
    const [da, db] = [
      (await getDetail(a, 'same-id')).body.data!,
      (await getDetail(b, 'same-id')).body.data!,
    ];
    expect(da.payoutId).not.toBe(db.payoutId);
  });

  test("detailsShape 'list' wraps the detail in a one-item page; set at start or by control API", async () => {
    const sim = await startSim({ offers: 3, detailsShape: 'list' });
    const [o] = await listAll(sim);
    const page = (await getDetail(sim, o.id)).body.data as unknown as PageData<OfferDetail>;
    expect(page).toEqual({
      pageIndex: 0,
      pageSize: 1,
      totalCount: 1,
      totalPages: 1,
      indexFrom: 0,
      items: [expect.objectContaining({ id: o.id, name: o.name })],
      hasPreviousPage: false,
      hasNextPage: false,
    });

    const res = await control(sim, '/_sim/details-shape', { shape: 'object' });
    expect(await res.json()).toEqual({ ok: true, detailsShape: 'object' });
    expect((await getDetail(sim, o.id)).body.data).toEqual(page.items[0]);
    expect((await control(sim, '/_sim/details-shape', { shape: 'array' })).status).toBe(400);
    expect(() => sim.setDetailsShape('array' as 'list')).toThrow(/details shape/);
    await expect(startSim({ detailsShape: 'array' as 'list' })).rejects.toThrow(/detailsShape/);
  });

  test('the simulator CLI takes --details-shape', async () => {
    const proc = await startSimulatorProcess(['--offers', '2', '--details-shape', 'list']);
    try {
      const auth = { headers: { Authorization: 'ApiToken sim-token' } };
      const list = (await (await fetch(`${proc.url}${OFFERS_PATH}`, auth)).json()) as Envelope;
      const id = list.data!.items[0].id;
      const detail = (await (await fetch(detailUrl(proc.url, id), auth)).json()) as Envelope;
      expect(detail.data).toMatchObject({ totalCount: 1, items: [{ id }] });
    } finally {
      await proc.stop();
    }
  });

  test('unknown or removed id → 404 envelope naming it; trailing slash, auth and method like the list', async () => {
    const sim = await startSim({ offers: 5 });
    const [o] = await listAll(sim);
    const unknown = await getDetail(sim, 'no-such-offer');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({
      data: null,
      isSuccessful: false,
      messages: ['Offer no-such-offer was not found'],
    });
    expect((await getDetail(sim, o.id, { path: `${detailUrl(sim.url, o.id)}/` })).status).toBe(200);

    sim.remove([o.id]);
    const removed = await getDetail(sim, o.id);
    expect(removed.status).toBe(404);
    expect(removed.body.messages).toEqual([`Offer ${o.id} was not found`]);

    const [p] = await listAll(sim);
    for (const [token, status] of [
      [null, 401],
      ['wrong', 401],
      [sim.options.forbiddenToken, 403],
    ] as const) {
      const res = await getDetail(sim, p.id, { token });
      expect(res.status).toBe(status);
      expect(res.body).toMatchObject({ data: null, isSuccessful: false });
    }
    const post = await fetch(detailUrl(sim.url, p.id), { method: 'POST' });
    expect(post.status).toBe(405);
    expect(sim.requests.filter((r) => r.kind === 'details').map((r) => r.status)).toEqual([
      404, 200, 404, 401, 401, 403,
    ]);
  });

  test('an update changes the detail consistently', async () => {
    const sim = await startSim({ offers: 5 });
    sim.add([offer('multi', { offerType: 'MultiEvent', categories: ['Gaming'] })]);
    const before = (await getDetail(sim, 'multi')).body.data!;
    sim.update('multi', {
      name: 'Renamed',
      categories: ['Travel', 'Health'],
      offerType: 'SingleEvent',
    });
    const [listed] = (await listAll(sim)).filter((o) => o.id === 'multi');
    const after = (await getDetail(sim, 'multi')).body.data!;
    expect(after).toMatchObject({ id: 'multi', name: listed.name, categories: listed.categories });
    expect(after.name).toBe('Renamed');
    expect(after.headline).toContain('Renamed');
    expect(after.headline).not.toBe(before.headline);
    expect(after.payoutId).toBe(before.payoutId); // the same offer keeps its payout
    expect(after.events).toHaveLength(1); // now a SingleEvent offer

    sim.update('multi', { name: undefined });
    expect('name' in (await getDetail(sim, 'multi')).body.data!).toBe(false);
  });
});

describe('faults on detail requests', () => {
  test("on: 'details' hits detail requests only (offerId: that id only); list faults skip details", async () => {
    const sim = await startSim({ offers: 5 });
    const [a, b] = await listAll(sim);
    sim.injectFault({
      kind: 'status',
      status: 429,
      retryAfter: '2',
      on: 'details',
      offerId: b.id,
      echoToken: true,
      messages: ['too many for {token}'],
    });
    sim.injectFault({ kind: 'status', status: 500 }); // on the list (the default)
    expect((await getDetail(sim, a.id)).status).toBe(200);
    const limited = await getDetail(sim, b.id);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect(limited.body.messages).toEqual(['too many for sim-token']);
    expect((await getDetail(sim, b.id)).status).toBe(200); // used up
    expect((await apiGet(sim, `${sim.url}${OFFERS_PATH}`)).status).toBe(500);

    sim.injectFault({ kind: 'status', status: 404, on: 'details', times: 2 });
    expect((await getDetail(sim, a.id)).status).toBe(404);
    expect((await getDetail(sim, b.id)).status).toBe(404);
    expect((await getDetail(sim, b.id)).status).toBe(200);
    expect((await apiGet(sim, `${sim.url}${OFFERS_PATH}`)).status).toBe(200);
  });

  test('reset, truncated, unsuccessful, not-json, huge and lone-surrogate on a detail', async () => {
    const sim = await startSim({ offers: 3 });
    const [o] = await listAll(sim);
    const url = detailUrl(sim.url, o.id);
    const on = 'details' as const;

    sim.injectFault({ kind: 'reset', on });
    await expect(apiGet(sim, url)).rejects.toThrow();
    sim.injectFault({ kind: 'truncated', on });
    await expect((await apiGet(sim, url)).text()).rejects.toThrow();
    sim.injectFault({ kind: 'unsuccessful', on, messages: ['nope'] });
    expect(await (await apiGet(sim, url)).json()).toMatchObject({ isSuccessful: false });
    sim.injectFault({ kind: 'not-json', on });
    expect(await (await apiGet(sim, url)).text()).toMatch(/^<html>/);
    sim.injectFault({ kind: 'huge', on, bytes: 100_000 });
    const huge = await (await apiGet(sim, url)).text();
    expect(huge.length).toBe(100_000);
    expect((JSON.parse(huge) as Envelope<OfferDetail>).data!.id).toBe(o.id);
    sim.injectFault({ kind: 'rewrite', rewrite: 'lone-surrogate', on });
    const raw = await (await apiGet(sim, url)).text();
    expect(raw).toContain(`"name":"\\ud800${String(o.name)}"`);
    expect((await getDetail(sim, o.id)).body.data!.name).toBe(o.name);
  });

  test('faults that mean nothing on a detail are refused, with the field named', async () => {
    const sim = await startSim({ offers: 1 });
    for (const [fault, message] of [
      [{ kind: 'short-page', on: 'details' }, /short-page is for on: 'list'/],
      [{ kind: 'status', status: 500, on: 'details', page: 1 }, /fault.page/],
      [{ kind: 'status', status: 500, offerId: 'x' }, /fault.offerId/],
      [{ kind: 'rewrite', rewrite: 'impossible-dates', on: 'details' }, /fault.rewrite/],
      [{ kind: 'status', status: 500, on: 'detail' }, /fault.on/],
    ] as const) {
      const res = await control(sim, '/_sim/faults', fault);
      expect(res.status).toBe(400);
      expect(((await res.json()) as Envelope).messages[0]).toMatch(message);
    }
  });
});

describe('detail requests in the log and stats', () => {
  test('entries name kind and id; maxInFlight counts both kinds; stats count detailRequests', async () => {
    const sim = await startSim({ offers: 4, latencyMs: 150 });
    const offers = await listAll(sim);
    const all = Promise.all([
      apiGet(sim, `${sim.url}${OFFERS_PATH}`),
      ...offers.slice(0, 3).map((o) => getDetail(sim, o.id)),
    ]);
    await untilLogged(sim, 5);
    await all;
    expect(sim.maxInFlight).toBe(4);
    const details = sim.requests.filter((r) => r.kind === 'details');
    expect(details.map((r) => r.offerId).sort()).toEqual(
      offers
        .slice(0, 3)
        .map((o) => o.id)
        .sort(),
    );
    const first = details[0];
    expect(first).toEqual({
      kind: 'details',
      offerId: first.offerId,
      page: NaN,
      pageSize: NaN,
      status: 200,
    });
    expect(await (await control(sim, '/_sim/stats')).json()).toEqual({
      requests: 2,
      detailRequests: 3,
      maxInFlight: 4,
      offers: 4,
    });
  });

  test('onRequest stays a list hook: detail requests do not call it', async () => {
    const sim = await startSim({ offers: 2 });
    const seen: string[] = [];
    sim.onRequest((entry) => seen.push(entry.kind));
    const [o] = await listAll(sim);
    await getDetail(sim, o.id);
    expect(seen).toEqual(['list']);
  });
});
