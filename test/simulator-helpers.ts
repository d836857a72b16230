/** Shared by the simulator's tests: a started simulator per test, HTTP helpers, fixtures. */
import { GoKartSimulator, Offer, SimulatorOptions } from '../tools/simulator';

export interface PageData<T = Offer> {
  pageIndex: number;
  pageSize: number;
  totalCount: number;
  totalPages: number;
  indexFrom: number;
  items: T[];
  hasPreviousPage: boolean;
  hasNextPage: boolean;
}

export interface Envelope<T = PageData> {
  data: T | null;
  responseId: string;
  isSuccessful: boolean;
  responseTitle: string;
  responseType: string;
  messages: string[];
}

export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const sims: GoKartSimulator[] = [];

/** A simulator closed after the test. */
export async function startSim(options: SimulatorOptions = {}): Promise<GoKartSimulator> {
  const sim = await GoKartSimulator.start(options);
  sims.push(sim);
  return sim;
}

afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

/** A GET with the simulator's token; token null = no Authorization header. */
export function apiGet(
  sim: GoKartSimulator,
  url: URL | string,
  opts: { token?: string | null; signal?: AbortSignal } = {},
): Promise<Response> {
  const token = opts.token === undefined ? sim.options.token : opts.token;
  return fetch(url, {
    headers: token === null ? {} : { Authorization: `ApiToken ${token}` },
    signal: opts.signal,
  });
}

/** A promise with a flag saying whether it has settled yet. */
export function settled<T>(promise: Promise<T>): { promise: Promise<T>; done: boolean } {
  const tracked = { promise, done: false };
  promise.then(
    () => (tracked.done = true),
    () => (tracked.done = true),
  );
  return tracked;
}

/** Waits until the simulator has logged `count` requests (the handler started on them). */
export async function untilLogged(sim: GoKartSimulator, count: number): Promise<void> {
  while (sim.requests.length < count) await new Promise((r) => setTimeout(r, 5));
}

export function offer(id: string, patch: Partial<Offer> = {}): Offer {
  return {
    id,
    categories: [],
    name: `Test ${id}`,
    budgetAmount: 1,
    launchDate: '2025-01-01T00:00:00+00:00',
    endDate: null,
    offerType: 'SingleEvent',
    ...patch,
  };
}

/** Calls the control API: GET for stats without a body, POST otherwise. */
export async function control(
  sim: GoKartSimulator,
  path: string,
  body?: unknown,
): Promise<Response> {
  return fetch(`${sim.url}${path}`, {
    method: body === undefined && path === '/_sim/stats' ? 'GET' : 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
}
