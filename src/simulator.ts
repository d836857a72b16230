/**
 * A deterministic, in-process simulator of GoKart's Partner API offers list
 * (see docs: "Partner – GET Offers List"). Used by tests, the demo and benchmarks.
 * Built on node:http only, so it behaves like a real server (sockets, keep-alive, resets).
 */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable, pipeline } from 'node:stream';
import { gzipSync } from 'node:zlib';

export const OFFERS_PATH = '/api/v1/sdk-offer-management/partner';

export interface Offer {
  id: string;
  categories: string[];
  name: string;
  budgetAmount: number;
  launchDate: string;
  endDate: string | null;
  offerType: string;
  [extra: string]: unknown;
}

/** reject = HTTP 400 for any orderby other than CreatedAt. */
export type SortMode = 'honour' | 'ignore' | 'reject';

export interface Fault {
  kind:
    | 'status'
    | 'reset'
    | 'slow'
    | 'truncated'
    | 'unsuccessful'
    | 'not-json'
    // Hostile paging: 'short-page' serves only `keep` of the page's offers, the totals unchanged;
    // 'repeat-pages' answers page n with page n % 2's offers, echoing n, under REPEAT_TOTAL_PAGES.
    | 'short-page'
    | 'repeat-pages'
    // 'rewrite' serves the page's offers altered as `rewrite` says (see Rewrite).
    | 'rewrite'
    // Hostile bodies: the real page after `bytes` of leading JSON whitespace (valid, but huge),
    // leading whitespace that never ends, or the real page one byte every delayMs (default 500).
    | 'huge'
    | 'endless'
    | 'drip';
  /** For 'status' (e.g. 429, 500, 503, 401, 404). */
  status?: number;
  /** Retry-After header value for 'status' (seconds "1" or an HTTP date). */
  retryAfter?: string;
  /** Location header value for 'status' (a redirect's target). */
  location?: string;
  /** For 'slow': wait this long before answering (so a client timeout fires). */
  delayMs?: number;
  /** Only requests for this page index match; undefined = any request. */
  page?: number;
  /** How many matching requests it hits (default 1); then it is used up. */
  times?: number;
  /** Envelope messages for 'status' / 'unsuccessful'. */
  messages?: string[];
  /** For 'short-page': how many of the page's offers are served (default 0, an empty page). */
  keep?: number;
  /** Replace `{token}` in `messages` with the request's API token (a server that echoes it). */
  echoToken?: boolean;
  /** For 'rewrite': how every offer of the answered page is altered (the inventory is not). */
  rewrite?: Rewrite;
  /** For 'huge': the body's size in bytes (before gzip). */
  bytes?: number;
  /** For 'huge' / 'endless': send the body gzip-compressed (Content-Encoding: gzip). */
  gzip?: boolean;
}

/**
 * Hostile data a 'rewrite' fault serves: launchDate and endDate without their offset
 * (the same instant when it was +00:00), moved to 30 February of their year, or a
 * name starting with a lone UTF-16 surrogate (sent as the JSON escape \ud800).
 */
export type Rewrite = 'offset-less-dates' | 'impossible-dates' | 'lone-surrogate';
const rewriteDates =
  (change: (date: string) => string) =>
  (o: Offer): Offer => ({
    ...o,
    launchDate: typeof o.launchDate === 'string' ? change(o.launchDate) : o.launchDate,
    endDate: typeof o.endDate === 'string' ? change(o.endDate) : o.endDate,
  });
const REWRITES: Readonly<Record<Rewrite, (offer: Offer) => Offer>> = {
  'offset-less-dates': rewriteDates((d) => d.replace(/(Z|[+-]\d\d:\d\d)$/i, '')),
  'impossible-dates': rewriteDates((d) => d.replace(/^(\d{4})-\d\d-\d\d/, '$1-02-30')),
  'lone-surrogate': (o) => ({ ...o, name: `\ud800${o.name}` }),
};

export interface SimulatorOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0 (random free port). */
  port?: number;
  /** Accepted API token, default 'sim-token'. */
  token?: string;
  /** A token that gets 403, default 'sim-forbidden'. */
  forbiddenToken?: string;
  /** Size of the generated inventory, default 250. */
  offers?: number;
  /** Default 1. */
  seed?: number;
  /** Added to every offers-list request, default 0. */
  latencyMs?: number;
  /** Default 'honour'. */
  sortMode?: SortMode;
}

/**
 * One offers-list request. page/pageSize are NaN when the client sent a non-integer;
 * status is 0 while the request is pending and for a 'reset' fault (no HTTP answer).
 */
export interface RequestLogEntry {
  page: number;
  pageSize: number;
  orderby?: string;
  orderAsc?: boolean;
  search?: string;
  offerType?: string;
  status: number;
}

export interface GenerateOptions {
  /** Earliest launchDate, default 2016-01-01T00:00:00Z. */
  from?: Date;
  /** Latest launchDate, default 2026-01-01T00:00:00Z. */
  to?: Date;
  /** Prepended verbatim to every id, so differently prefixed batches never share ids. */
  idPrefix?: string;
  /**
   * Index of the first offer (default 0). Offer i depends only on (seed, i), so
   * `generateOffers(n, s, { firstIndex: k })` equals `generateOffers(k + n, s).slice(k)`.
   */
  firstIndex?: number;
}

const DAY_MS = 86_400_000;
const DEFAULT_FROM = Date.UTC(2016, 0, 1);
const DEFAULT_TO = Date.UTC(2026, 0, 1);
const CATEGORIES = [
  'Banking',
  'Gaming',
  'Shopping',
  'Travel',
  'Finance',
  'Health',
  'Education',
  'Crypto',
];
const NAME_WORDS = [
  'Cashback',
  'Bonus',
  'Quest',
  'Signup',
  'Deposit',
  'Trial',
  'Reward',
  'Challenge',
  'Spin',
  'Streak',
];
const MAX_PAGE_SIZE = 100;
const MAX_PAGE = 2_147_483_647; // the API is .NET: page is an Int32
const MAX_BODY_BYTES = 1 << 20;
/** Padding for 'huge' / 'endless' bodies: 1 MiB of JSON whitespace, plain and as one gzip member. */
let padding: { plain: Buffer; gzip: Buffer } | undefined;
function pad(): { plain: Buffer; gzip: Buffer } {
  if (!padding) {
    const plain = Buffer.alloc(1 << 20, ' ');
    padding = { plain, gzip: gzipSync(plain) };
  }
  return padding;
}
const FILTER_CACHE_SIZE = 64;
/** Control endpoints for a simulator in another process, and the method each takes. */
const CONTROL_ROUTES: Readonly<Record<string, 'GET' | 'POST'>> = {
  '/_sim/stats': 'GET',
  '/_sim/reset-stats': 'POST',
  '/_sim/offers': 'POST',
  '/_sim/latency': 'POST',
  '/_sim/faults': 'POST',
};

/** Seeded PRNG (mulberry32): deterministic inventories and test scenarios. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** murmur3's 32-bit finalizer. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * A Feistel network is a bijection, so distinct (seed, index) pairs give distinct
 * 64-bit values: ids from different seeds or indices can never collide.
 */
function scramble(seed: number, index: number): [number, number] {
  let l = seed >>> 0;
  let r = index >>> 0;
  for (let round = 1; round <= 4; round++) {
    const next = (l ^ mix32((r + Math.imul(round, 0x9e3779b9)) >>> 0)) >>> 0;
    l = r;
    r = next;
  }
  return [l, r];
}

// Lookup tables: toString(16)/padStart and toISOString dominated generating 100k offers.
const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const TWO_DIGITS = HEX_BYTE.map((_, i) => String(i).padStart(2, '0'));

function hex32(v: number): string {
  return (
    HEX_BYTE[(v >>> 24) & 255] +
    HEX_BYTE[(v >>> 16) & 255] +
    HEX_BYTE[(v >>> 8) & 255] +
    HEX_BYTE[v & 255]
  );
}

/** Formats like the API, whole seconds with a '+00:00' offset: 2026-03-03T22:00:00+00:00. */
function apiDateFormatter(): (ms: number) => string {
  const days = new Map<number, string>();
  return (ms) => {
    const day = Math.floor(ms / DAY_MS);
    let date = days.get(day);
    if (date === undefined) {
      date = new Date(day * DAY_MS).toISOString().slice(0, 10);
      days.set(day, date);
    }
    const sec = Math.floor((ms - day * DAY_MS) / 1000);
    const hms =
      TWO_DIGITS[Math.floor(sec / 3600)] +
      ':' +
      TWO_DIGITS[Math.floor(sec / 60) % 60] +
      ':' +
      TWO_DIGITS[sec % 60];
    return `${date}T${hms}+00:00`;
  };
}

interface GenerateContext {
  seed: number;
  fromSec: number;
  toSec: number;
  prefix: string;
  formatDate: (ms: number) => string;
}

/** Offer `index` of a seed, with its hidden createdAt; depends only on (seed, index). */
function generateOne(ctx: GenerateContext, index: number): { offer: Offer; createdAt: number } {
  const [hi, lo] = scramble(ctx.seed, index);
  const rnd = mulberry32(mix32(hi ^ mix32(lo)));
  const word = (): number => Math.floor(rnd() * 4294967296);
  // All 64 scrambled bits are kept (around the version nibble), so ids stay unique.
  const h = hex32(hi) + hex32(lo);
  const tail = hex32(word()) + hex32(word());
  const id =
    `${ctx.prefix}${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(12, 15)}-` +
    `${'89ab'[word() & 3]}${h[15]}${tail.slice(0, 2)}-${tail.slice(2, 14)}`;

  const launchMs = (ctx.fromSec + Math.floor(rnd() * (ctx.toSec - ctx.fromSec + 1))) * 1000;
  const createdAt = launchMs - Math.floor(rnd() * 10 * 86_400) * 1000;
  const endDate =
    rnd() < 0.4 ? null : ctx.formatDate(launchMs + (30 + Math.floor(rnd() * 336)) * DAY_MS);
  const pool = [...CATEGORIES];
  const categories: string[] = [];
  for (let n = Math.floor(rnd() * 4); n > 0; n--) {
    categories.push(pool.splice(Math.floor(rnd() * pool.length), 1)[0]);
  }
  const name = `Offer ${index + 1} ${NAME_WORDS[Math.floor(rnd() * NAME_WORDS.length)]}`;
  const budgetAmount =
    rnd() < 0.5 ? 1 + Math.floor(rnd() * 10_000) : Math.round((1 + rnd() * 10_000) * 100) / 100;
  const offerType = rnd() < 0.5 ? 'SingleEvent' : 'MultiEvent';
  const launchDate = ctx.formatDate(launchMs);
  return {
    offer: { id, categories, name, budgetAmount, launchDate, endDate, offerType },
    createdAt,
  };
}

/** Calls `emit` for each generated offer with its hidden createdAt (launchDate minus 0–10 days). */
function generate(
  count: number,
  seed: number,
  opts: GenerateOptions,
  emit: (offer: Offer, createdAt: number) => void,
): void {
  const firstIndex = opts.firstIndex ?? 0;
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(`count must be a non-negative integer, got ${count}`);
  }
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  if (!Number.isSafeInteger(firstIndex) || firstIndex < 0 || firstIndex + count > 2 ** 32) {
    throw new RangeError(`firstIndex + count must stay within 0..2^32, got ${firstIndex}`);
  }
  const ctx: GenerateContext = {
    seed,
    fromSec: Math.ceil((opts.from?.getTime() ?? DEFAULT_FROM) / 1000),
    toSec: Math.floor((opts.to?.getTime() ?? DEFAULT_TO) / 1000),
    prefix: opts.idPrefix ?? '',
    formatDate: apiDateFormatter(),
  };
  if (!(ctx.fromSec <= ctx.toSec)) throw new RangeError('from must not be after to');
  for (let i = 0; i < count; i++) {
    const { offer, createdAt } = generateOne(ctx, firstIndex + i);
    emit(offer, createdAt);
  }
}

/**
 * Deterministic for a seed. The simulator seeds itself through the same generator and
 * keeps each offer's createdAt on the side, so it is never serialized.
 */
export function generateOffers(count: number, seed: number, opts: GenerateOptions = {}): Offer[] {
  const offers: Offer[] = [];
  generate(count, seed, opts, (offer) => offers.push(offer));
  return offers;
}

type SortField = 'CreatedAt' | 'LaunchDate' | 'EndDate' | 'Name' | 'BudgetAmount';
const SORT_FIELDS: readonly SortField[] = [
  'CreatedAt',
  'LaunchDate',
  'EndDate',
  'Name',
  'BudgetAmount',
];
const SORT_FIELD_BY_LOWER = new Map(SORT_FIELDS.map((f) => [f.toLowerCase(), f]));
const SORT_MODES: readonly SortMode[] = ['honour', 'ignore', 'reject'];
const FAULT_KINDS: readonly Fault['kind'][] = [
  'status',
  'reset',
  'slow',
  'truncated',
  'unsuccessful',
  'not-json',
  'short-page',
  'repeat-pages',
  'rewrite',
  'huge',
  'endless',
  'drip',
];
/** The totalPages a 'repeat-pages' fault claims. */
export const REPEAT_TOTAL_PAGES = 10_000_000;

interface Stored {
  offer: Offer;
  createdAt: number;
  /** Serialized once, so a page costs a join of cached strings, not a stringify. */
  json?: string;
}

type SortKey = number | string | null;

function serialize(s: Stored): string {
  return (s.json ??= JSON.stringify(s.offer));
}

function dateKey(value: unknown): number | null {
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  return Number.isNaN(ms) ? null : ms;
}

function sortKey(s: Stored, field: SortField): SortKey {
  const o = s.offer;
  switch (field) {
    case 'CreatedAt':
      return s.createdAt;
    case 'LaunchDate':
      return dateKey(o.launchDate);
    case 'EndDate':
      return dateKey(o.endDate);
    case 'Name':
      return typeof o.name === 'string' ? o.name.toLowerCase() : null;
    case 'BudgetAmount':
      return typeof o.budgetAmount === 'number' && Number.isFinite(o.budgetAmount)
        ? o.budgetAmount
        : null;
  }
}

/**
 * Nulls sort lowest, as in SQL Server: first ascending, last descending. Ties fall back
 * to the id (always ascending), so every order is total and stable across requests.
 */
function compareOrder(ka: SortKey, ia: string, kb: SortKey, ib: string, asc: boolean): number {
  if (ka !== kb) {
    const c = ka === null ? -1 : kb === null ? 1 : ka < kb ? -1 : 1;
    return asc ? c : -c;
  }
  return ia < ib ? -1 : ia > ib ? 1 : 0;
}

interface SortedView {
  field: SortField;
  asc: boolean;
  order: Stored[];
}

/** Index of `s` in a view, or where it belongs. */
function locate(view: SortedView, s: Stored): number {
  const key = sortKey(s, view.field);
  let lo = 0;
  let hi = view.order.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const m = view.order[mid];
    if (compareOrder(sortKey(m, view.field), m.offer.id, key, s.offer.id, view.asc) < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

interface ListQuery {
  page: number;
  pageSize: number;
  field: SortField;
  asc: boolean;
  search: string;
  offerType?: string;
}

interface Reply {
  status: number;
  body: string;
  contentType: string;
  headers?: Record<string, string>;
  mode: 'normal' | 'truncated' | 'reset' | 'padded' | 'drip';
  /** 'padded': this many bytes of whitespace before the body (Infinity: endless), maybe gzipped. */
  padBytes?: number;
  gzip?: boolean;
  /** 'drip': ms between bytes. */
  dripMs?: number;
}

interface ArmedFault {
  fault: Fault;
  left: number;
}

/** Controller errors become HTTP 400 on the control endpoints. */
class BadRequest extends Error {}

function envelope(
  status: number,
  messages: string[],
  title = http.STATUS_CODES[status] ?? 'Error',
): string {
  return JSON.stringify({
    data: null,
    responseId: randomUUID(),
    isSuccessful: false,
    responseTitle: title,
    responseType: 'Error',
    messages,
  });
}

function jsonReply(status: number, body: string, headers?: Record<string, string>): Reply {
  return { status, body, contentType: 'application/json; charset=utf-8', headers, mode: 'normal' };
}

function errorReply(status: number, messages: string[], headers?: Record<string, string>): Reply {
  return jsonReply(status, envelope(status, messages), headers);
}

/** Absent or empty → fallback; a strict integer in [min, max]; anything else → undefined. */
function intParam(
  raw: string | null,
  fallback: number,
  min: number,
  max: number,
): number | undefined {
  if (raw === null || raw === '') return fallback;
  if (!/^[+-]?\d+$/.test(raw)) return undefined;
  const n = Number(raw);
  return n >= min && n <= max ? n : undefined;
}

function boolParam(raw: string | null): boolean | undefined {
  const v = raw?.toLowerCase();
  return v === 'true' ? true : v === 'false' ? false : undefined;
}

function isLoopback(address: string | undefined): boolean {
  return (
    address === '::1' ||
    (address?.startsWith('127.') ?? false) ||
    (address?.startsWith('::ffff:127.') ?? false)
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function validateFault(input: unknown): Fault {
  if (!isRecord(input)) throw new BadRequest('fault must be an object');
  const f = input as Partial<Record<keyof Fault, unknown>>;
  if (!FAULT_KINDS.includes(f.kind as Fault['kind'])) {
    throw new BadRequest(`fault.kind must be one of ${FAULT_KINDS.join(', ')}`);
  }
  const optionalInt = (key: keyof Fault, min: number, max: number): void => {
    const v = f[key];
    if (
      v !== undefined &&
      !(typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max)
    ) {
      throw new BadRequest(`fault.${key} must be an integer from ${min} to ${max}`);
    }
  };
  optionalInt('status', 100, 599);
  optionalInt('delayMs', 0, 3_600_000);
  optionalInt('page', 0, MAX_PAGE);
  optionalInt('times', 1, Number.MAX_SAFE_INTEGER);
  optionalInt('keep', 0, MAX_PAGE_SIZE);
  optionalInt('bytes', 0, Number.MAX_SAFE_INTEGER);
  if (f.kind === 'huge' && f.bytes === undefined) throw new BadRequest('fault.bytes missing');
  if (f.gzip !== undefined && typeof f.gzip !== 'boolean') {
    throw new BadRequest('fault.gzip must be a boolean');
  }
  if (f.kind === 'status' && f.status === undefined) throw new BadRequest('fault.status missing');
  if (f.kind === 'slow' && f.delayMs === undefined) throw new BadRequest('fault.delayMs missing');
  if (f.echoToken !== undefined && typeof f.echoToken !== 'boolean') {
    throw new BadRequest('fault.echoToken must be a boolean');
  }
  if (f.kind === 'rewrite' && !Object.hasOwn(REWRITES, String(f.rewrite))) {
    throw new BadRequest(`fault.rewrite must be one of ${Object.keys(REWRITES).join(', ')}`);
  }
  if (f.retryAfter !== undefined && typeof f.retryAfter !== 'string') {
    throw new BadRequest('fault.retryAfter must be a string');
  }
  if (f.location !== undefined && typeof f.location !== 'string') {
    throw new BadRequest('fault.location must be a string');
  }
  if (
    f.messages !== undefined &&
    !(Array.isArray(f.messages) && f.messages.every((m) => typeof m === 'string'))
  ) {
    throw new BadRequest('fault.messages must be an array of strings');
  }
  return { ...(input as unknown as Fault) };
}

function resolveOptions(o: SimulatorOptions): Required<SimulatorOptions> {
  const r: Required<SimulatorOptions> = {
    host: o.host ?? '127.0.0.1',
    port: o.port ?? 0,
    token: o.token ?? 'sim-token',
    forbiddenToken: o.forbiddenToken ?? 'sim-forbidden',
    offers: o.offers ?? 250,
    seed: o.seed ?? 1,
    latencyMs: o.latencyMs ?? 0,
    sortMode: o.sortMode ?? 'honour',
  };
  const checks: [boolean, string][] = [
    [Number.isInteger(r.port) && r.port >= 0 && r.port <= 65535, 'port must be 0..65535'],
    [/^\S+$/.test(r.token), 'token must be non-empty without spaces'],
    [/^\S+$/.test(r.forbiddenToken), 'forbiddenToken must be non-empty without spaces'],
    [r.token !== r.forbiddenToken, 'token and forbiddenToken must differ'],
    [Number.isSafeInteger(r.offers) && r.offers >= 0, 'offers must be a non-negative integer'],
    [Number.isSafeInteger(r.seed), 'seed must be an integer'],
    [Number.isFinite(r.latencyMs) && r.latencyMs >= 0, 'latencyMs must be >= 0'],
    [SORT_MODES.includes(r.sortMode), `sortMode must be one of ${SORT_MODES.join(', ')}`],
  ];
  for (const [ok, message] of checks) if (!ok) throw new RangeError(message);
  return r;
}

export class GoKartSimulator {
  private readonly server: http.Server;
  private readonly resolved: Required<SimulatorOptions>;
  private readonly stored = new Map<string, Stored>();
  /** Sorted inventory per `${field}:${asc}`, built on first use and kept in step by reindex. */
  private readonly orderCache = new Map<string, SortedView>();
  /** Filtered views of a sorted order, for scans that page through one search. */
  private readonly filterCache = new Map<string, Stored[]>();
  private readonly faults: ArmedFault[] = [];
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private hook: ((entry: RequestLogEntry, served: number) => void) | undefined;
  private log: RequestLogEntry[] = [];
  private served = 0;
  private inFlight = 0;
  private peakInFlight = 0;
  private newestCreatedAt = -Infinity;
  /** Next generator index for /_sim/offers, so added ids never repeat earlier ones. */
  private nextIndex: number;
  private baseUrl = '';
  private closed = false;

  private constructor(options: Required<SimulatorOptions>) {
    this.resolved = { ...options };
    this.nextIndex = options.offers;
    generate(options.offers, options.seed, {}, (offer, createdAt) => this.insert(offer, createdAt));
    this.server = http.createServer((req, res) => this.route(req, res));
    // Longer than a client agent's idle timeout, so reused sockets are not closed under it.
    this.server.keepAliveTimeout = 60_000;
    this.server.headersTimeout = 61_000;
  }

  static async start(options: SimulatorOptions = {}): Promise<GoKartSimulator> {
    const sim = new GoKartSimulator(resolveOptions(options));
    await new Promise<void>((resolve, reject) => {
      sim.server.once('error', reject);
      sim.server.listen(sim.resolved.port, sim.resolved.host, () => {
        sim.server.off('error', reject);
        resolve();
      });
    });
    const address = sim.server.address() as AddressInfo;
    sim.resolved.port = address.port;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    sim.baseUrl = `http://${host}:${address.port}`;
    return sim;
  }

  /** Base URL without a trailing slash, e.g. 'http://127.0.0.1:43123'. */
  get url(): string {
    return this.baseUrl;
  }

  /** Start options as resolved: the bound port, and the current latency and sort mode. */
  get options(): Required<SimulatorOptions> {
    return { ...this.resolved };
  }

  /** Every offers-list request, in arrival order (live array; replaced by resetStats). */
  get requests(): RequestLogEntry[] {
    return this.log;
  }

  get maxInFlight(): number {
    return this.peakInFlight;
  }

  /** Current inventory in default server order (CreatedAt descending), as it is served. */
  offers(): Offer[] {
    return this.sorted('CreatedAt', false).map((s) => JSON.parse(serialize(s)) as Offer);
  }

  /** createdAt defaults to now, and is never older than the newest offer, so these come first. */
  add(offers: Offer[], createdAt?: Date): void {
    const at = createdAt?.getTime() ?? Math.max(Date.now(), this.newestCreatedAt + 1);
    if (Number.isNaN(at)) throw new RangeError('add: invalid createdAt');
    const ids = new Set<string>();
    for (const o of offers) {
      if (typeof o?.id !== 'string') throw new TypeError('add: every offer needs a string id');
      if (this.stored.has(o.id) || ids.has(o.id)) throw new Error(`add: duplicate id ${o.id}`);
      ids.add(o.id);
    }
    // Cloned so later changes to the caller's objects cannot leak into served pages.
    const added = offers.map((o) => this.insert(structuredClone(o), at));
    this.reindex([], added);
  }

  /** Unknown ids are ignored (the offer may already be gone). */
  remove(ids: string[]): void {
    const removed: Stored[] = [];
    for (const id of ids) {
      const s = this.stored.get(id);
      if (s && this.stored.delete(id)) removed.push(s);
    }
    this.reindex(removed, []);
  }

  /** A patch value of undefined drops that field from the served JSON. */
  update(id: string, patch: Partial<Offer>): void {
    const old = this.stored.get(id);
    if (!old) throw new Error(`update: unknown id ${id}`);
    if (patch.id !== undefined && patch.id !== id) throw new Error('update: cannot change id');
    const s = this.insert({ ...old.offer, ...structuredClone(patch), id }, old.createdAt);
    this.reindex([old], [s]);
  }

  setLatency(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('latency must be >= 0');
    this.resolved.latencyMs = ms;
  }

  setSortMode(mode: SortMode): void {
    if (!SORT_MODES.includes(mode)) throw new RangeError(`unknown sort mode ${String(mode)}`);
    this.resolved.sortMode = mode;
  }

  injectFault(fault: Fault): void {
    const f = validateFault(fault);
    this.faults.push({ fault: f, left: f.times ?? 1 });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /**
   * Called after each offers-list response is computed, before it is sent. `served` counts
   * computed list responses (1-based, reset by resetStats); the hook may change the inventory.
   */
  onRequest(hook: ((entry: RequestLogEntry, served: number) => void) | undefined): void {
    this.hook = hook;
  }

  resetStats(): void {
    this.log = [];
    this.served = 0;
    this.peakInFlight = this.inFlight;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Wake pending latency/slow waits; their handlers see `closed` and send nothing.
    for (const [timer, wake] of this.timers) {
      clearTimeout(timer);
      wake();
    }
    this.timers.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private insert(offer: Offer, createdAt: number): Stored {
    const s: Stored = { offer, createdAt };
    this.stored.set(offer.id, s);
    if (createdAt > this.newestCreatedAt) this.newestCreatedAt = createdAt;
    return s;
  }

  /**
   * Keeps cached orders valid after a change. A few offers (mid-scan churn) are moved by
   * binary search, so a 100k inventory is not re-sorted per change; big batches re-sort.
   */
  private reindex(removed: Stored[], added: Stored[]): void {
    this.filterCache.clear();
    if (removed.length + added.length > 64) {
      this.orderCache.clear();
      return;
    }
    for (const view of this.orderCache.values()) {
      for (const s of removed) {
        const i = locate(view, s);
        if (view.order[i] === s) view.order.splice(i, 1);
      }
      for (const s of added) view.order.splice(locate(view, s), 0, s);
    }
  }

  private sorted(field: SortField, asc: boolean): Stored[] {
    const cacheKey = `${field}:${asc}`;
    let view = this.orderCache.get(cacheKey);
    if (!view) {
      // Decorate once: keys are computed n times, not n log n times.
      const decorated = Array.from(this.stored.values(), (s) => ({ s, k: sortKey(s, field) }));
      decorated.sort((a, b) => compareOrder(a.k, a.s.offer.id, b.k, b.s.offer.id, asc));
      view = { field, asc, order: decorated.map((d) => d.s) };
      this.orderCache.set(cacheKey, view);
    }
    return view.order;
  }

  private view(q: ListQuery): Stored[] {
    const order = this.sorted(q.field, q.asc);
    if (q.search === '' && q.offerType === undefined) return order;
    const key = JSON.stringify([q.field, q.asc, q.search, q.offerType]);
    let view = this.filterCache.get(key);
    if (!view) {
      const needle = q.search.toLowerCase();
      view = order.filter(
        ({ offer }) =>
          (needle === '' ||
            (typeof offer.name === 'string' && offer.name.toLowerCase().includes(needle))) &&
          (q.offerType === undefined || offer.offerType === q.offerType),
      );
      if (this.filterCache.size >= FILTER_CACHE_SIZE) {
        this.filterCache.delete(this.filterCache.keys().next().value as string);
      }
      this.filterCache.set(key, view);
    }
    return view;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.set(timer, resolve);
    });
  }

  private route(req: http.IncomingMessage, res: http.ServerResponse): void {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://simulator');
    } catch {
      this.send(res, errorReply(400, ['Malformed request URL']));
      return;
    }
    const path = url.pathname.replace(/\/+$/, '');
    if (path === OFFERS_PATH) {
      if (req.method !== 'GET') {
        this.send(res, errorReply(405, [`${req.method} not allowed`], { Allow: 'GET' }));
        return;
      }
      // Only send() can throw here (e.g. a bad header value); drop the connection then.
      this.serveList(req, res, url.searchParams).catch(() => res.destroy());
      return;
    }
    if (path.startsWith('/_sim/') && isLoopback(req.socket.remoteAddress)) {
      this.serveControl(req, res, path).catch((err: unknown) => {
        const status = err instanceof BadRequest ? 400 : 500;
        this.send(res, errorReply(status, [err instanceof Error ? err.message : String(err)]));
      });
      return;
    }
    this.send(res, errorReply(404, [`No route for ${req.method} ${url.pathname}`]));
  }

  private async serveList(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    params: URLSearchParams,
  ): Promise<void> {
    const entry: RequestLogEntry = {
      page: intParam(params.get('page'), 0, -Infinity, Infinity) ?? NaN,
      pageSize: intParam(params.get('page_size'), 10, -Infinity, Infinity) ?? NaN,
      status: 0,
    };
    const orderby = params.get('orderby');
    const orderAsc = boolParam(params.get('order_asc'));
    const search = params.get('filter.search');
    const offerType = params.get('filter.offer_type');
    if (orderby !== null) entry.orderby = orderby;
    if (orderAsc !== undefined) entry.orderAsc = orderAsc;
    if (search !== null) entry.search = search;
    if (offerType !== null) entry.offerType = offerType;
    this.log.push(entry);
    this.inFlight++;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    try {
      if (this.resolved.latencyMs > 0) await this.sleep(this.resolved.latencyMs);
      if (this.closed) return;
      let reply: Reply;
      try {
        reply = await this.answerList(req, params, entry.page);
      } catch (err) {
        reply = errorReply(500, [`simulator error: ${(err as Error).message}`]);
      }
      if (this.closed) return;
      entry.status = reply.mode === 'reset' ? 0 : reply.status;
      this.served++;
      try {
        this.hook?.(entry, this.served);
      } catch (err) {
        // Surface a broken test hook to the client instead of crashing the server.
        reply = errorReply(500, [`onRequest hook failed: ${(err as Error).message}`]);
        entry.status = 500;
      }
      this.send(res, reply);
    } finally {
      this.inFlight--;
    }
  }

  private async answerList(
    req: http.IncomingMessage,
    params: URLSearchParams,
    page: number,
  ): Promise<Reply> {
    const header = req.headers.authorization;
    if (!header) {
      return errorReply(401, ['Missing API token: send Authorization: ApiToken <token>']);
    }
    const token = /^ApiToken\s+(\S+)\s*$/i.exec(header)?.[1];
    if (token !== undefined && token === this.resolved.forbiddenToken) {
      return errorReply(403, ['This API token is not allowed to read partner offers']);
    }
    if (token !== this.resolved.token) return errorReply(401, ['Invalid API token']);

    const armed = this.faults.find((a) => a.fault.page === undefined || a.fault.page === page);
    if (armed) {
      armed.left--;
      if (armed.left <= 0) this.faults.splice(this.faults.indexOf(armed), 1);
      const f =
        armed.fault.echoToken && armed.fault.messages
          ? {
              ...armed.fault,
              messages: armed.fault.messages.map((m) => m.replaceAll('{token}', () => token)),
            }
          : armed.fault;
      switch (f.kind) {
        case 'status': {
          const status = f.status ?? 500;
          const headers = {
            ...(f.retryAfter !== undefined && { 'Retry-After': f.retryAfter }),
            ...(f.location !== undefined && { Location: f.location }),
          };
          return errorReply(status, f.messages ?? [http.STATUS_CODES[status] ?? 'Error'], headers);
        }
        case 'reset':
          return { ...jsonReply(0, ''), mode: 'reset' };
        case 'slow':
          await this.sleep(f.delayMs ?? 0);
          break;
        case 'truncated':
          return { ...this.answerQuery(params), mode: 'truncated' };
        case 'unsuccessful':
          return jsonReply(
            200,
            envelope(200, f.messages ?? ['The request was not successful'], 'Error'),
          );
        case 'not-json':
          return {
            status: 200,
            body: '<html>maintenance</html>',
            contentType: 'text/html; charset=utf-8',
            mode: 'normal',
          };
        case 'short-page':
        case 'repeat-pages':
        case 'rewrite':
          return this.answerQuery(params, f);
        case 'huge':
        case 'endless': {
          const reply = this.answerQuery(params);
          const padBytes =
            f.kind === 'endless' ? Infinity : Math.max(0, (f.bytes ?? 0) - reply.body.length);
          return { ...reply, mode: 'padded', padBytes, gzip: f.gzip };
        }
        case 'drip':
          return { ...this.answerQuery(params), mode: 'drip', dripMs: f.delayMs ?? 500 };
      }
    }
    return this.answerQuery(params);
  }

  /** A list page; `paging` is a 'short-page', 'repeat-pages' or 'rewrite' fault that bends it. */
  private answerQuery(params: URLSearchParams, paging?: Fault): Reply {
    const q = this.parseQuery(params);
    if (typeof q === 'string') return errorReply(400, [q]);
    const view = this.view(q);
    const repeat = paging?.kind === 'repeat-pages';
    const totalPages = repeat ? REPEAT_TOTAL_PAGES : Math.ceil(view.length / q.pageSize);
    const totalCount = repeat ? REPEAT_TOTAL_PAGES * q.pageSize : view.length;
    const start = (repeat ? q.page % 2 : q.page) * q.pageSize;
    const served = paging?.kind === 'short-page' ? (paging.keep ?? 0) : q.pageSize;
    const items = view
      .slice(start, start + Math.min(served, q.pageSize))
      .map((s) =>
        paging?.kind === 'rewrite'
          ? JSON.stringify(REWRITES[paging.rewrite as Rewrite](s.offer))
          : serialize(s),
      );
    // Assembled by hand so only this page's (cached) item JSON is touched.
    const body =
      `{"data":{"pageIndex":${q.page},"pageSize":${q.pageSize},"totalCount":${totalCount},` +
      `"totalPages":${totalPages},"indexFrom":0,"items":[${items.join(',')}],` +
      `"hasPreviousPage":${q.page > 0},"hasNextPage":${q.page + 1 < totalPages}},` +
      `"responseId":"${randomUUID()}","isSuccessful":true,"responseTitle":"Success",` +
      `"responseType":"Success","messages":[]}`;
    return jsonReply(200, body);
  }

  /** The parsed query, or the 400 message. */
  private parseQuery(params: URLSearchParams): ListQuery | string {
    const page = intParam(params.get('page'), 0, 0, MAX_PAGE);
    if (page === undefined) return `page must be an integer from 0 to ${MAX_PAGE}`;
    const pageSize = intParam(params.get('page_size'), 10, 1, MAX_PAGE_SIZE);
    if (pageSize === undefined) return `page_size must be an integer from 1 to ${MAX_PAGE_SIZE}`;
    const offerType = params.get('filter.offer_type') ?? undefined;
    const base = { page, pageSize, search: params.get('filter.search') ?? '', offerType };
    const mode = this.resolved.sortMode;
    // A server that ignores sorting never looks at orderby / order_asc.
    if (mode === 'ignore') return { ...base, field: 'CreatedAt', asc: false };
    const rawOrder = params.get('orderby');
    const field = rawOrder ? SORT_FIELD_BY_LOWER.get(rawOrder.toLowerCase()) : 'CreatedAt';
    if (mode === 'reject' && field !== 'CreatedAt') {
      return `Invalid orderby '${rawOrder}': only CreatedAt is supported`;
    }
    if (field === undefined) {
      return `Invalid orderby '${rawOrder}': expected one of ${SORT_FIELDS.join(', ')}`;
    }
    const rawAsc = params.get('order_asc');
    const asc = rawAsc ? boolParam(rawAsc) : false;
    if (asc === undefined) return `order_asc must be true or false, got '${rawAsc}'`;
    return { ...base, field, asc };
  }

  private send(res: http.ServerResponse, reply: Reply): void {
    if (res.destroyed || res.headersSent) return;
    if (reply.mode === 'reset') {
      // An RST, so the client sees ECONNRESET rather than a clean close.
      res.socket?.resetAndDestroy();
      return;
    }
    const body = Buffer.from(reply.body);
    if (reply.mode === 'padded') return this.sendPadded(res, reply, body);
    if (reply.mode === 'drip') return void this.drip(res, reply, body);
    res.writeHead(reply.status, {
      'Content-Type': reply.contentType,
      'Content-Length': body.length,
      ...reply.headers,
    });
    if (reply.mode === 'truncated') {
      // Promise the whole body, deliver half, then drop the connection.
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.destroy());
      return;
    }
    res.end(body);
  }

  /** Whitespace, then the body: streamed with backpressure, so the simulator stays small. */
  private sendPadded(res: http.ServerResponse, reply: Reply, body: Buffer): void {
    const padBytes = reply.padBytes ?? 0;
    const length = padBytes + body.length;
    res.writeHead(reply.status, {
      'Content-Type': reply.contentType,
      ...(reply.gzip ? { 'Content-Encoding': 'gzip' } : {}),
      ...(reply.gzip || !Number.isFinite(length) ? {} : { 'Content-Length': length }),
    });
    // Gzip as concatenated members, compressed once: a gigabyte costs about a megabyte.
    const { plain, gzip } = pad();
    function* chunks(): Generator<Buffer> {
      let left = padBytes;
      for (; left >= plain.length; left -= plain.length) yield reply.gzip ? gzip : plain;
      const tail = Buffer.concat([plain.subarray(0, left), body]);
      yield reply.gzip ? gzipSync(tail) : tail;
    }
    // An error means the client went away: nothing to do.
    pipeline(Readable.from(chunks(), { objectMode: false }), res, () => {});
  }

  /** The headers at once, then one byte every `ms` until the body is sent or the client leaves. */
  private async drip(res: http.ServerResponse, reply: Reply, body: Buffer): Promise<void> {
    res.writeHead(reply.status, {
      'Content-Type': reply.contentType,
      'Content-Length': body.length,
    });
    for (let i = 0; i < body.length && !this.closed && !res.destroyed; i++) {
      res.write(body.subarray(i, i + 1));
      await this.sleep(reply.dripMs ?? 500);
    }
    if (!res.destroyed) res.end();
  }

  private async serveControl(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    path: string,
  ): Promise<void> {
    const method = CONTROL_ROUTES[path];
    if (method === undefined) return this.send(res, errorReply(404, [`No route for ${path}`]));
    if (req.method !== method) {
      return this.send(res, errorReply(405, [`${req.method} not allowed on ${path}`]));
    }
    const ok = (body: object = { ok: true }): void =>
      this.send(res, jsonReply(200, JSON.stringify(body)));
    switch (path) {
      case '/_sim/stats':
        return ok({
          requests: this.log.length,
          maxInFlight: this.peakInFlight,
          offers: this.stored.size,
        });
      case '/_sim/reset-stats':
        this.resetStats();
        return ok();
      case '/_sim/offers':
        return ok(this.addGenerated(await readJson(req)));
      case '/_sim/latency': {
        const body = await readJson(req);
        const ms = isRecord(body) ? body.ms : undefined;
        if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
          throw new BadRequest('ms must be a number >= 0');
        }
        this.setLatency(ms);
        return ok({ ok: true, latencyMs: ms });
      }
      case '/_sim/faults':
        this.injectFault((await readJson(req)) as Fault); // validated there
        return ok();
    }
  }

  private addGenerated(body: unknown): { added: number; ids: string[] } {
    if (!isRecord(body)) throw new BadRequest('expected a JSON object');
    const { count, seed = this.resolved.seed, launchFrom, launchTo } = body;
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0 || count > 1e6) {
      throw new BadRequest('count must be an integer from 0 to 1000000');
    }
    if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
      throw new BadRequest('seed must be an integer');
    }
    const date = (value: unknown, name: string): Date | undefined => {
      if (value === undefined) return undefined;
      const d = typeof value === 'string' ? new Date(value) : new Date(NaN);
      if (Number.isNaN(d.getTime())) throw new BadRequest(`${name} must be an ISO date-time`);
      return d;
    };
    let offers: Offer[];
    try {
      // Fresh generator indices make the ids disjoint from all earlier ones, whatever the seed.
      offers = generateOffers(count, seed, {
        from: date(launchFrom, 'launchFrom'),
        to: date(launchTo, 'launchTo'),
        firstIndex: this.nextIndex,
      });
    } catch (err) {
      throw err instanceof RangeError ? new BadRequest(err.message) : err;
    }
    this.add(offers);
    this.nextIndex += offers.length;
    return { added: offers.length, ids: offers.map((o) => o.id) };
  }
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BadRequest('request body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new BadRequest('request body must be JSON');
  }
}
