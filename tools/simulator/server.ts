/**
 * A deterministic, in-process simulator of GoKart's Partner API offers list and offer details
 * (see docs: "Partner – GET Offers List", "Partner – GET Offer Details"). Used by tests, the
 * demo and benchmarks.
 * Built on node:http only, so it behaves like a real server (sockets, keep-alive, resets).
 */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

import {
  BadRequest,
  boolParam,
  errorReply,
  intParam,
  jsonReply,
  MAX_PAGE,
  MAX_PAGE_SIZE,
  OFFERS_PATH,
  Reply,
} from './api';
import { control, isLoopback } from './control';
import {
  Fault,
  FaultQueue,
  FaultTarget,
  faultReply,
  REPEAT_TOTAL_PAGES,
  REWRITES,
  Rewrite,
  sendHostile,
} from './faults';
import type { Offer } from './generate';
import { Inventory, serialize, SORT_FIELD_BY_LOWER, SORT_FIELDS, ViewQuery } from './inventory';
import {
  DETAILS_SHAPES,
  DetailsShape,
  resolveOptions,
  SimulatorOptions,
  SORT_MODES,
  SortMode,
} from './options';

/**
 * One API request: an offers-list page or one offer's details. page/pageSize are NaN for a
 * detail request and when the client sent a non-integer; status is 0 while the request is
 * pending and for a 'reset' fault (no HTTP answer).
 */
export interface RequestLogEntry {
  kind: FaultTarget;
  /** For kind 'details': the requested id, as decoded from the path. */
  offerId?: string;
  page: number;
  pageSize: number;
  orderby?: string;
  orderAsc?: boolean;
  search?: string;
  offerType?: string;
  status: number;
}

interface ListQuery extends ViewQuery {
  page: number;
  pageSize: number;
}

export class GoKartSimulator {
  private readonly server: http.Server;
  private readonly resolved: Required<SimulatorOptions>;
  private readonly inventory: Inventory;
  private readonly faults = new FaultQueue();
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private hook: ((entry: RequestLogEntry, served: number) => void) | undefined;
  private log: RequestLogEntry[] = [];
  private served = 0;
  private inFlight = 0;
  private peakInFlight = 0;
  private baseUrl = '';
  private closed = false;

  private constructor(options: Required<SimulatorOptions>) {
    this.resolved = { ...options };
    this.inventory = new Inventory(options.offers, options.seed);
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

  /** Every list and detail request, in arrival order (live array; replaced by resetStats). */
  get requests(): RequestLogEntry[] {
    return this.log;
  }

  get maxInFlight(): number {
    return this.peakInFlight;
  }

  /** Current inventory in default server order (CreatedAt descending), as it is served. */
  offers(): Offer[] {
    return this.inventory.offers();
  }

  /** createdAt defaults to now, and is never older than the newest offer, so these come first. */
  add(offers: Offer[], createdAt?: Date): void {
    this.inventory.add(offers, createdAt);
  }

  /** Unknown ids are ignored (the offer may already be gone). */
  remove(ids: string[]): void {
    this.inventory.remove(ids);
  }

  /** A patch value of undefined drops that field from the served JSON. */
  update(id: string, patch: Partial<Offer>): void {
    this.inventory.update(id, patch);
  }

  setLatency(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('latency must be >= 0');
    this.resolved.latencyMs = ms;
  }

  setSortMode(mode: SortMode): void {
    if (!SORT_MODES.includes(mode)) throw new RangeError(`unknown sort mode ${String(mode)}`);
    this.resolved.sortMode = mode;
  }

  setDetailsShape(shape: DetailsShape): void {
    if (!DETAILS_SHAPES.includes(shape)) {
      throw new RangeError(`unknown details shape ${String(shape)}`);
    }
    this.resolved.detailsShape = shape;
  }

  injectFault(fault: Fault): void {
    this.faults.arm(fault);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /**
   * Called after each offers-list response is computed, before it is sent (not for detail
   * requests). `served` counts computed list responses (1-based, reset by resetStats); the hook
   * may change the inventory.
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
    const detail = /^\/([^/]+)$/.exec(path.slice(OFFERS_PATH.length));
    if (path === OFFERS_PATH || (path.startsWith(OFFERS_PATH) && detail)) {
      if (req.method !== 'GET') {
        this.send(res, errorReply(405, [`${req.method} not allowed`], { Allow: 'GET' }));
        return;
      }
      let id: string | undefined;
      try {
        id = detail ? decodeURIComponent(detail[1]) : undefined;
      } catch {
        this.send(res, errorReply(400, ['Malformed offer id in the request path']));
        return;
      }
      const served =
        id === undefined
          ? this.serveList(req, res, url.searchParams)
          : this.serveDetail(req, res, id);
      // Only send() can throw here (e.g. a bad header value); drop the connection then.
      served.catch(() => res.destroy());
      return;
    }
    if (path.startsWith('/_sim/') && isLoopback(req.socket.remoteAddress)) {
      control(req, path, this.controllable()).then(
        (reply) => this.send(res, reply),
        (err: unknown) => {
          const status = err instanceof BadRequest ? 400 : 500;
          this.send(res, errorReply(status, [err instanceof Error ? err.message : String(err)]));
        },
      );
      return;
    }
    this.send(res, errorReply(404, [`No route for ${req.method} ${url.pathname}`]));
  }

  /** What the control API may reach. */
  private controllable(): Parameters<typeof control>[2] {
    return {
      stats: () => {
        const detailRequests = this.log.filter((e) => e.kind === 'details').length;
        return {
          requests: this.log.length - detailRequests,
          detailRequests,
          maxInFlight: this.peakInFlight,
          offers: this.inventory.size,
        };
      },
      resetStats: () => this.resetStats(),
      addGenerated: (count, seed, range) =>
        this.inventory.addGenerated(count, seed ?? this.resolved.seed, range),
      setLatency: (ms) => this.setLatency(ms),
      setDetailsShape: (shape) => this.setDetailsShape(shape),
      injectFault: (fault) => this.injectFault(fault),
    };
  }

  private async serveList(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    params: URLSearchParams,
  ): Promise<void> {
    const entry: RequestLogEntry = {
      kind: 'list',
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
    await this.serve(req, res, entry, { on: 'list', page: entry.page }, (bend) =>
      this.answerQuery(params, bend),
    );
  }

  private async serveDetail(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    id: string,
  ): Promise<void> {
    const entry: RequestLogEntry = {
      kind: 'details',
      offerId: id,
      page: NaN,
      pageSize: NaN,
      status: 0,
    };
    await this.serve(req, res, entry, { on: 'details', offerId: id }, (bend) =>
      this.answerDetail(id, bend),
    );
  }

  /**
   * Logs and answers one API request: latency, auth, faults, then `normal` (the answer
   * without faults, bent by a 'rewrite'-like fault if given).
   */
  private async serve(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    entry: RequestLogEntry,
    target: Parameters<FaultQueue['take']>[0],
    normal: (bend?: Fault) => Reply,
  ): Promise<void> {
    this.log.push(entry);
    this.inFlight++;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    try {
      if (this.resolved.latencyMs > 0) await this.sleep(this.resolved.latencyMs);
      if (this.closed) return;
      let reply: Reply;
      try {
        reply = await this.answer(req, target, normal);
      } catch (err) {
        reply = errorReply(500, [`simulator error: ${(err as Error).message}`]);
      }
      if (this.closed) return;
      entry.status = reply.mode === 'reset' ? 0 : reply.status;
      if (entry.kind === 'list') {
        this.served++;
        try {
          this.hook?.(entry, this.served);
        } catch (err) {
          // Surface a broken test hook to the client instead of crashing the server.
          reply = errorReply(500, [`onRequest hook failed: ${(err as Error).message}`]);
          entry.status = 500;
        }
      }
      this.send(res, reply);
    } finally {
      this.inFlight--;
    }
  }

  private async answer(
    req: http.IncomingMessage,
    target: Parameters<FaultQueue['take']>[0],
    normal: (bend?: Fault) => Reply,
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

    const fault = this.faults.take(target);
    const ctx = { answer: normal, sleep: (ms: number) => this.sleep(ms), token };
    return (fault && (await faultReply(fault, ctx))) ?? normal();
  }

  /** One offer's details, as an object or a one-item page; a 'rewrite' fault bends it. */
  private answerDetail(id: string, bend?: Fault): Reply {
    const json = this.inventory.detail(id);
    if (json === undefined) return errorReply(404, [`Offer ${id} was not found`]);
    const detail =
      bend?.kind === 'rewrite'
        ? JSON.stringify(REWRITES[bend.rewrite as Rewrite](JSON.parse(json) as Offer))
        : json;
    const data =
      this.resolved.detailsShape === 'object'
        ? detail
        : `{"pageIndex":0,"pageSize":1,"totalCount":1,"totalPages":1,"indexFrom":0,` +
          `"items":[${detail}],"hasPreviousPage":false,"hasNextPage":false}`;
    return jsonReply(200, success(data));
  }

  /** A list page; `paging` is a 'short-page', 'repeat-pages' or 'rewrite' fault that bends it. */
  private answerQuery(params: URLSearchParams, paging?: Fault): Reply {
    const q = this.parseQuery(params);
    if (typeof q === 'string') return errorReply(400, [q]);
    const view = this.inventory.view(q);
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
    const data =
      `{"pageIndex":${q.page},"pageSize":${q.pageSize},"totalCount":${totalCount},` +
      `"totalPages":${totalPages},"indexFrom":0,"items":[${items.join(',')}],` +
      `"hasPreviousPage":${q.page > 0},"hasNextPage":${q.page + 1 < totalPages}}`;
    return jsonReply(200, success(data));
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
    if (reply.mode !== 'normal') {
      return sendHostile(res, reply, { sleep: (ms) => this.sleep(ms), closed: () => this.closed });
    }
    const body = Buffer.from(reply.body);
    res.writeHead(reply.status, {
      'Content-Type': reply.contentType,
      'Content-Length': body.length,
      ...reply.headers,
    });
    res.end(body);
  }
}

/** The success envelope around `data`, already JSON. */
function success(data: string): string {
  return (
    `{"data":${data},"responseId":"${randomUUID()}","isSuccessful":true,` +
    `"responseTitle":"Success","responseType":"Success","messages":[]}`
  );
}
