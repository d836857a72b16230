import { AxiosError } from 'axios';
import http from 'http';
import type { AddressInfo } from 'net';
import { GoKartClient, MAX_RETRY_WAIT_MS, retryWaitMs, toApiError } from '../src/api/client';
import { RetryNotice } from '../src/api/types';
import { GoKartConfig, resolveConfig, validateConfig } from '../src/config';
import { GoKartSimulator } from '../tools/simulator';
import { offersQuery } from '../src/streams/offers';
import { offerDetailsQuery } from '../src/streams/offer_details';

let sim: GoKartSimulator;
beforeAll(async () => {
  sim = await GoKartSimulator.start({ offers: 120 });
});
afterAll(() => sim.close());
beforeEach(() => {
  sim.clearFaults();
  sim.resetStats();
});

function config(extra: Record<string, unknown> = {}): GoKartConfig {
  return {
    ...resolveConfig(validateConfig({ api_token: 'sim-token', api_url: sim.url, ...extra })),
    retryBaseDelayMs: 10,
  };
}

async function withClient<T>(
  cfg: GoKartConfig,
  fn: (c: GoKartClient, notices: RetryNotice[]) => Promise<T>,
): Promise<T> {
  const notices: RetryNotice[] = [];
  const client = new GoKartClient(cfg, (n) => notices.push(n));
  try {
    return await fn(client, notices);
  } finally {
    client.close();
  }
}

describe('GoKartClient', () => {
  it('reads a page and unwraps the envelope', async () => {
    const page = await withClient(config({ page_size: 50 }), (c) =>
      c.fetchPage(offersQuery(c.config, { page: 2 })),
    );
    expect(page).toMatchObject({
      pageIndex: 2,
      totalCount: 120,
      totalPages: 3,
      hasNextPage: false,
    });
    expect(page.items).toHaveLength(20);
    expect(sim.requests[0]).toMatchObject({ page: 2, pageSize: 50 });
  });

  it('asks for newest launch first only when told to', async () => {
    await withClient(config(), (c) =>
      c.fetchPage(offersQuery(c.config, { page: 0, newestLaunchFirst: true })),
    );
    expect(sim.requests[0]).toMatchObject({ orderby: 'LaunchDate', orderAsc: false });
  });

  it('honours a Retry-After given as an HTTP date', async () => {
    // The clock is frozen on a whole second, so the wait the header asks for is exact.
    const now = Math.floor(Date.now() / 1000) * 1000;
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now);
    const until = new Date(now + 1000);
    sim.injectFault({ kind: 'status', status: 429, retryAfter: until.toUTCString() });
    try {
      const notices = await withClient(config(), async (c, n) => {
        await c.fetchPage(offersQuery(c.config, { page: 0 }));
        return n;
      });
      expect(notices).toEqual([
        {
          page: 0,
          target: 'page 0',
          attempt: 1,
          delayMs: 1000, // the date, not the 10 ms backoff
          rateLimited: true,
          reason: expect.stringContaining('HTTP 429'),
          quotaReset: until.getTime(),
        },
      ]);
      expect(sim.requests).toHaveLength(2);
    } finally {
      clock.mockRestore();
    }
  });

  it("reports the server's own Retry-After time as the quota reset", async () => {
    const until = new Date(Date.now() + 2000);
    sim.injectFault({ kind: 'status', status: 429, retryAfter: until.toUTCString() });
    const notices = await withClient(config(), async (c, n) => {
      await c.fetchPage(offersQuery(c.config, { page: 0 }));
      return n;
    });
    expect(notices[0].quotaReset).toBe(Date.parse(until.toUTCString()));
  });

  it('does not wait for a Retry-After beyond the budget: fails at once, naming the time', async () => {
    sim.injectFault({ kind: 'status', status: 429, retryAfter: '36000', times: 5 });
    const err = await withClient(config(), async (c, n) => {
      const e = await c.fetchPage(offersQuery(c.config, { page: 0 })).catch((x) => x);
      expect(n).toHaveLength(0);
      return e;
    });
    expect(sim.requests).toHaveLength(1);
    expect(err.failureType).toBe('transient_error');
    expect(err.message).toMatch(
      /^GoKart is rate limiting \(HTTP 429 \(API said: Too Many Requests\)\) and allows the next request at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in 10 hours\), beyond the 5 minutes the connector waits in all for page 0/,
    );
  });

  it.each([
    ['a huge body', { kind: 'huge', bytes: 20_000_000 }],
    ['a gzip bomb', { kind: 'huge', bytes: 200_000_000, gzip: true }],
  ] as const)('refuses %s past 8 MiB without retrying', async (_, fault) => {
    sim.injectFault({ ...fault, times: 5 });
    const err = await withClient(config(), (c) =>
      c.fetchPage(offersQuery(c.config, { page: 0 })),
    ).catch((e) => e);
    expect(sim.requests).toHaveLength(1);
    expect(err.failureType).toBe('system_error');
    expect(err.message).toMatch(/^GoKart's response for page 0 exceeded the 8 MiB size limit/);
  });

  it('reads a gzip-compressed page', async () => {
    sim.injectFault({ kind: 'huge', bytes: 0, gzip: true });
    const page = await withClient(config(), (c) => c.fetchPage(offersQuery(c.config, { page: 0 })));
    expect(page.items).toHaveLength(100);
  });

  it('times out the whole attempt, not only idle time', async () => {
    // One byte every 100 ms never leaves the socket idle for a second, and takes minutes.
    sim.injectFault({ kind: 'drip', delayMs: 100 });
    const cfg = config({ request_timeout_seconds: 1, max_retries: 0 });
    const err = await withClient(cfg, (c) => c.fetchPage(offersQuery(c.config, { page: 0 }))).catch(
      (e) => e,
    );
    expect(err.message).toBe(
      'Reading page 0 failed: the request timed out (no complete answer within 1 s)',
    );
  });

  it('backs off exponentially with jitter between retries', async () => {
    sim.injectFault({ kind: 'status', status: 503, times: 3 });
    const notices = await withClient({ ...config(), retryBaseDelayMs: 100 }, async (c, n) => {
      await c.fetchPage(offersQuery(c.config, { page: 0 }));
      return n;
    });
    const delays = notices.map((n) => n.delayMs);
    expect(delays).toHaveLength(3);
    // 100 × 2^(attempt-1), plus up to 20% jitter
    delays.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(100 * 2 ** i);
      expect(d).toBeLessThanOrEqual(120 * 2 ** i + 1);
    });
  });

  it('takes the page size asked for when the server reports none', async () => {
    const data = { pageIndex: 0, totalCount: 1, totalPages: 1, hasNextPage: false };
    const server = http.createServer((_req, res) => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ isSuccessful: true, data: { ...data, items: [{ id: 'a' }] } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const cfg = config({ page_size: 40, api_url: `http://127.0.0.1:${port}` });
      const page = await withClient(cfg, (c) => c.fetchPage(offersQuery(c.config, { page: 0 })));
      expect(page).toMatchObject({ ...data, pageSize: 40 });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('says why a 200 was retried', async () => {
    sim.injectFault({ kind: 'unsuccessful', messages: ['index rebuilding'] });
    const notices = await withClient(config(), async (c, n) => {
      await c.fetchPage(offersQuery(c.config, { page: 0 }));
      return n;
    });
    expect(notices[0].reason).toBe(
      'HTTP 200 but isSuccessful is not true (API said: index rebuilding)',
    );
  });
});

describe('retryWaitMs (the Retry-After rule)', () => {
  it('backs off exponentially, at most a minute, without Retry-After', () => {
    expect(retryWaitMs(800, undefined, 0)).toBe(800);
    expect(retryWaitMs(200_000, undefined, 10 * MAX_RETRY_WAIT_MS)).toBe(60_000);
  });

  it('waits as long as GoKart asks while the waits stay within 5 minutes in all', () => {
    expect(MAX_RETRY_WAIT_MS).toBe(300_000);
    expect(retryWaitMs(500, 120_000, 0)).toBe(120_000);
    expect(retryWaitMs(500, 100_000, 200_000)).toBe(100_000);
    expect(retryWaitMs(4000, 1000, 0)).toBe(4000);
  });

  it('gives up when Retry-After would take the waits past 5 minutes', () => {
    expect(retryWaitMs(500, 36_000_000, 0)).toBeUndefined();
    expect(retryWaitMs(500, 300_001, 0)).toBeUndefined();
    expect(retryWaitMs(500, 100_000, 200_001)).toBeUndefined();
  });
});

describe('GoKartClient.fetchObject (offer details)', () => {
  /** A server answering every request with `data`. */
  async function serving<T>(data: unknown, fn: (c: GoKartClient) => Promise<T>): Promise<T> {
    const server = http.createServer((_req, res) => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ isSuccessful: true, data, messages: [] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      return await withClient(config({ api_url: `http://127.0.0.1:${port}`, max_retries: 1 }), fn);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  }
  const page = (items: unknown[]) => ({
    pageIndex: 0,
    totalCount: items.length,
    totalPages: 1,
    hasNextPage: false,
    items,
  });
  const ask = (c: GoKartClient) => c.fetchObject(offerDetailsQuery('o-1'));

  it('takes data as the object, or as a page holding just it', async () => {
    const detail = { id: 'o-1', payoutId: 'p', items: ['a nested field named items'] };
    expect(await serving(detail, ask)).toEqual(detail);
    expect(await serving(page([detail]), ask)).toEqual(detail);
  });

  it.each([
    [
      { id: 'o-2' },
      'GoKart answered the request for offer details of o-1 with offer "o-2" instead',
    ],
    [
      page([{ id: 'o-1' }, { id: 'o-2' }]),
      'GoKart answered the request for offer details of o-1 with a list of 2 offers instead of that one offer',
    ],
    [page([]), 'with a list of 0 offers'],
    [
      { name: 'no id' },
      'Reading offer details of o-1 failed after 2 attempts: HTTP 200 but data must have required property',
    ],
  ])('refuses %j, naming the id', async (data, message) => {
    const err = await serving(data, ask).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(message);
  });
});

describe('toApiError', () => {
  const cfg = resolveConfig(validateConfig({ api_token: 't', tenant: 'acme' }));
  const networkError = (code: string) => new AxiosError('boom', code);

  it.each([
    [
      'ENOTFOUND',
      "Cannot resolve host api.acme.getgokart.ai: check the tenant, or the machine's DNS/network",
      'config_error',
    ],
    [
      'EAI_AGAIN',
      'Cannot resolve host api.acme.getgokart.ai (DNS lookup failed)',
      'transient_error',
    ],
    [
      'ECONNREFUSED',
      'Cannot connect to api.acme.getgokart.ai: connection refused',
      'transient_error',
    ],
    ['ETIMEDOUT', 'Reading page 3 failed: the request timed out', 'transient_error'],
  ])('explains %s', (code, message, failureType) => {
    const err = toApiError(networkError(code), offersQuery(cfg, { page: 3 }), cfg);
    expect(err.message).toContain(message);
    expect(err.failureType).toBe(failureType);
  });

  it('calls a 200 that stayed broken after retries a transient failure', async () => {
    sim.injectFault({ kind: 'not-json', times: 5 });
    const cfgSim = config({ max_retries: 2 });
    const err = await withClient(cfgSim, (c) =>
      c.fetchPage(offersQuery(c.config, { page: 0 })),
    ).catch((e) => e);
    expect(err.failureType).toBe('transient_error');
    expect(err.message).toBe(
      'Reading page 0 failed after 3 attempts: HTTP 200 but the body is not JSON (truncated or an HTML error page?)',
    );
  });

  it('never carries request headers', () => {
    const err = new AxiosError('fail', 'ECONNRESET', {
      headers: { Authorization: 'ApiToken secret-x' },
    } as never);
    expect(JSON.stringify(toApiError(err, offersQuery(cfg, { page: 0 }), cfg))).not.toContain(
      'secret-x',
    );
    expect(toApiError(err, offersQuery(cfg, { page: 0 }), cfg).message).not.toContain('secret-x');
  });
});
