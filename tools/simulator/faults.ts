/**
 * Fault injection: the Fault a test arms, its validation, the queue of armed faults, the reply
 * each kind computes, and the hostile ways of sending it (reset, truncated, padded, drip).
 */
import * as http from 'node:http';
import { Readable, pipeline } from 'node:stream';
import { gzipSync } from 'node:zlib';

import {
  BadRequest,
  errorReply,
  isRecord,
  jsonReply,
  envelope,
  MAX_PAGE,
  MAX_PAGE_SIZE,
  Reply,
} from './api';
import type { Offer } from './generate';

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
    // 'rewrite' serves the page's offers (or the detail) altered as `rewrite` says (see Rewrite).
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
  /** Which requests it hits: offers-list pages (default) or offer-details requests. */
  on?: FaultTarget;
  /** Only list requests for this page index match; undefined = any list request. */
  page?: number;
  /** Only the detail request for this offer id matches (on 'details'); undefined = any. */
  offerId?: string;
  /** How many matching requests it hits (default 1); then it is used up. */
  times?: number;
  /** Envelope messages for 'status' / 'unsuccessful'. */
  messages?: string[];
  /** For 'short-page': how many of the page's offers are served (default 0, an empty page). */
  keep?: number;
  /** Replace `{token}` in `messages` with the request's API token (a server that echoes it). */
  echoToken?: boolean;
  /** For 'rewrite': how every offer of the answered page (or the detail) is altered, not stored. */
  rewrite?: Rewrite;
  /** For 'huge': the body's size in bytes (before gzip). */
  bytes?: number;
  /** For 'huge' / 'endless': send the body gzip-compressed (Content-Encoding: gzip). */
  gzip?: boolean;
}

export type FaultTarget = 'list' | 'details';
/** The kinds that bend a list page, so mean nothing for a detail request. */
const LIST_ONLY_KINDS: readonly Fault['kind'][] = ['short-page', 'repeat-pages'];
/** What a detail request has that a rewrite can alter (it has no dates). */
const DETAIL_REWRITES: readonly Rewrite[] = ['lone-surrogate'];

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
export const REWRITES: Readonly<Record<Rewrite, (offer: Offer) => Offer>> = {
  'offset-less-dates': rewriteDates((d) => d.replace(/(Z|[+-]\d\d:\d\d)$/i, '')),
  'impossible-dates': rewriteDates((d) => d.replace(/^(\d{4})-\d\d-\d\d/, '$1-02-30')),
  'lone-surrogate': (o) => ({ ...o, name: `\ud800${o.name}` }),
};

export const FAULT_KINDS: readonly Fault['kind'][] = [
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

export function validateFault(input: unknown): Fault {
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
  if (f.on !== undefined && f.on !== 'list' && f.on !== 'details') {
    throw new BadRequest("fault.on must be 'list' or 'details'");
  }
  if (f.offerId !== undefined && (typeof f.offerId !== 'string' || f.on !== 'details')) {
    throw new BadRequest("fault.offerId must be a string, with on: 'details'");
  }
  if (f.on === 'details') {
    if (f.page !== undefined) throw new BadRequest("fault.page is for on: 'list' only");
    if (LIST_ONLY_KINDS.includes(f.kind as Fault['kind'])) {
      throw new BadRequest(`fault.kind ${String(f.kind)} is for on: 'list' only`);
    }
    if (f.kind === 'rewrite' && !DETAIL_REWRITES.includes(f.rewrite as Rewrite)) {
      throw new BadRequest(`on: 'details' takes fault.rewrite ${DETAIL_REWRITES.join(', ')}`);
    }
  }
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

/** Padding for 'huge' / 'endless' bodies: 1 MiB of JSON whitespace, plain and as one gzip member. */
let padding: { plain: Buffer; gzip: Buffer } | undefined;
function pad(): { plain: Buffer; gzip: Buffer } {
  if (!padding) {
    const plain = Buffer.alloc(1 << 20, ' ');
    padding = { plain, gzip: gzipSync(plain) };
  }
  return padding;
}

/** Armed faults, first match wins; each is used up after `times` matching requests. */
export class FaultQueue {
  private readonly armed: { fault: Fault; left: number }[] = [];

  arm(fault: Fault): void {
    const f = validateFault(fault);
    this.armed.push({ fault: f, left: f.times ?? 1 });
  }

  clear(): void {
    this.armed.length = 0;
  }

  /** The first fault that matches a request, counted as used once more. */
  take(
    request: { on: 'list'; page: number } | { on: 'details'; offerId: string },
  ): Fault | undefined {
    const armed = this.armed.find(({ fault: f }) =>
      request.on === 'list'
        ? (f.on ?? 'list') === 'list' && (f.page === undefined || f.page === request.page)
        : f.on === 'details' && (f.offerId === undefined || f.offerId === request.offerId),
    );
    if (!armed) return undefined;
    if (--armed.left <= 0) this.armed.splice(this.armed.indexOf(armed), 1);
    return armed.fault;
  }
}

/** What a fault's reply is built from: the normal answer, and the server's clock. */
export interface FaultContext {
  /**
   * The normal answer (the requested page or detail), bent by a 'short-page', 'repeat-pages'
   * or 'rewrite' fault if given.
   */
  answer(bend?: Fault): Reply;
  sleep(ms: number): Promise<void>;
  /** The request's API token, for `echoToken`. */
  token: string;
}

/** The reply a fault makes; undefined: answer normally (after a 'slow' fault's wait). */
export async function faultReply(fault: Fault, ctx: FaultContext): Promise<Reply | undefined> {
  const f =
    fault.echoToken && fault.messages
      ? { ...fault, messages: fault.messages.map((m) => m.replaceAll('{token}', () => ctx.token)) }
      : fault;
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
      await ctx.sleep(f.delayMs ?? 0);
      return undefined;
    case 'truncated':
      return { ...ctx.answer(), mode: 'truncated' };
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
      return ctx.answer(f);
    case 'huge':
    case 'endless': {
      const reply = ctx.answer();
      const padBytes =
        f.kind === 'endless' ? Infinity : Math.max(0, (f.bytes ?? 0) - reply.body.length);
      return { ...reply, mode: 'padded', padBytes, gzip: f.gzip };
    }
    case 'drip':
      return { ...ctx.answer(), mode: 'drip', dripMs: f.delayMs ?? 500 };
  }
}

/** Sends a reply whose mode is not 'normal'; `io` lets a drip stop when the server closes. */
export function sendHostile(
  res: http.ServerResponse,
  reply: Reply,
  io: { sleep(ms: number): Promise<void>; closed(): boolean },
): void {
  const body = Buffer.from(reply.body);
  switch (reply.mode) {
    case 'reset':
      // An RST, so the client sees ECONNRESET rather than a clean close.
      res.socket?.resetAndDestroy();
      return;
    case 'truncated':
      // Promise the whole body, deliver half, then drop the connection.
      res.writeHead(reply.status, {
        'Content-Type': reply.contentType,
        'Content-Length': body.length,
        ...reply.headers,
      });
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.destroy());
      return;
    case 'padded':
      return sendPadded(res, reply, body);
    case 'drip':
      return void drip(res, reply, body, io);
    case 'normal':
      throw new Error('sendHostile: a normal reply');
  }
}

/** Whitespace, then the body: streamed with backpressure, so the simulator stays small. */
function sendPadded(res: http.ServerResponse, reply: Reply, body: Buffer): void {
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
async function drip(
  res: http.ServerResponse,
  reply: Reply,
  body: Buffer,
  io: { sleep(ms: number): Promise<void>; closed(): boolean },
): Promise<void> {
  res.writeHead(reply.status, {
    'Content-Type': reply.contentType,
    'Content-Length': body.length,
  });
  for (let i = 0; i < body.length && !io.closed() && !res.destroyed; i++) {
    res.write(body.subarray(i, i + 1));
    await io.sleep(reply.dripMs ?? 500);
  }
  if (!res.destroyed) res.end();
}
