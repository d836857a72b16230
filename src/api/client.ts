import axios, { AxiosError, AxiosInstance, AxiosResponse } from 'axios';
import axiosRetry, { exponentialDelay } from 'axios-retry';
import http from 'http';
import https from 'https';
import zlib from 'zlib';
import { GoKartConfig } from '../config';
import { ApiError, errorText, FailureType } from '../errors';
import { cleanServerText } from '../text';
import { validators } from '../validators';
import {
  ApiQuery,
  ApiRecord,
  describeQuery,
  ListQuery,
  ObjectQuery,
  OffersPage,
  RetryNotice,
} from './types';

/** A page as the envelope carries it: pageSize is optional there. */
type ServedPage = Omit<OffersPage, 'pageSize'> & { pageSize?: number };

/** Thrown by the response interceptor for a 200 whose body is not a usable envelope. */
const BAD_BODY = 'EGOKARTBODY';
/** A response larger than MAX_RESPONSE_BYTES: not retried. */
const TOO_LARGE = 'EGOKARTTOOLARGE';
/** A Retry-After beyond what is left of MAX_RETRY_WAIT_MS: not retried. */
const WAIT_TOO_LONG = 'EGOKARTWAIT';

/** The most one response may have, as received and as decompressed. A page of 100 offers is tens of KB. */
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;
/** Exponential backoff alone waits at most this long before a retry. */
const MAX_BACKOFF_MS = 60_000;
/** A request waits for GoKart's Retry-After only while all its waits add up to at most this. */
export const MAX_RETRY_WAIT_MS = 5 * 60_000;

/** One request's state across its attempts (axios-retry sends the same config again). */
interface RequestState {
  /** What is asked for: the envelope's `data` is checked as a page or as one object. */
  query: ApiQuery;
  /** The caller's signal; each attempt listens to it and to its own timeout. */
  callerSignal?: AbortSignal;
  /** Time spent waiting before retries so far. */
  waitedMs: number;
  /** Decided after a failed attempt: the wait before the next one. */
  nextWaitMs?: number;
  /** When GoKart said (Retry-After) it takes requests again, epoch ms. */
  retryAt?: number;
}

declare module 'axios' {
  interface AxiosRequestConfig {
    gokart?: RequestState;
  }
}

/**
 * The Retry-After rule: the wait before a retry is exponential backoff (at most a minute), or
 * longer if GoKart's Retry-After asks, as long as the request's waits stay within
 * MAX_RETRY_WAIT_MS in all. Undefined when Retry-After asks for more: the request fails now.
 */
export function retryWaitMs(
  backoffMs: number,
  retryAfterMs: number | undefined,
  waitedMs: number,
): number | undefined {
  const backoff = Math.min(backoffMs, MAX_BACKOFF_MS);
  if (retryAfterMs === undefined) return backoff;
  if (waitedMs + retryAfterMs > MAX_RETRY_WAIT_MS) return undefined;
  return Math.max(backoff, retryAfterMs);
}

/**
 * Reads GoKart's paged lists a page at a time, and single objects by id: keep-alive,
 * retries with backoff, strict envelope checks, one code path for both. What is
 * asked for and how (path, sort, filters) is the stream's.
 */
export class GoKartClient {
  private readonly http: AxiosInstance;
  private readonly agent: http.Agent;

  constructor(
    readonly config: GoKartConfig,
    private readonly onRetry: (notice: RetryNotice) => void = () => {},
  ) {
    const isHttps = config.baseUrl.startsWith('https:');
    this.agent = isHttps
      ? new https.Agent({ keepAlive: true })
      : new http.Agent({ keepAlive: true });
    this.http = axios.create({
      baseURL: config.baseUrl,
      headers: {
        Authorization: `ApiToken ${config.apiToken}`,
        Accept: 'application/json',
        'Accept-Encoding': 'gzip, deflate, br',
      },
      // Raw bytes, capped: bodyText decompresses with its own cap and parseEnvelope parses,
      // so a body that is not the envelope becomes a retryable error that names the page.
      responseType: 'arraybuffer',
      decompress: false,
      maxContentLength: MAX_RESPONSE_BYTES,
      transformResponse: (data: unknown) => data,
      maxRedirects: 0, // never follow a redirect with the token to another host
      ...(isHttps ? { httpsAgent: this.agent } : { httpAgent: this.agent }),
    });
    // Each attempt (axios-retry sends the config again) gets a fresh signal that also aborts
    // when the attempt, headers and body, takes longer than the timeout.
    this.http.interceptors.request.use((request) => {
      request.signal = attemptSignal(config.timeoutMs, request.gokart?.callerSignal);
      return request;
    });
    this.http.interceptors.response.use(parseEnvelope);
    this.http.interceptors.response.use(undefined, (err: unknown) => {
      throw this.failedAttempt(err);
    });
    axiosRetry(this.http, {
      retries: config.maxRetries,
      retryCondition: isRetryable,
      retryDelay: (attempt, error) => {
        const state = error.config?.gokart;
        const query = state?.query;
        const delayMs = Math.round(state?.nextWaitMs ?? 0);
        if (state) state.waitedMs += delayMs;
        this.onRetry({
          page: query && 'page' in query ? query.page : -1,
          target: query ? describeQuery(query) : 'a request',
          attempt,
          delayMs,
          reason: describeFailure(error),
          rateLimited: error.response?.status === 429,
          quotaReset: state?.retryAt,
        });
        return delayMs;
      },
    });
  }

  /**
   * After each failed attempt, before axios-retry: names timeouts and oversized answers, and
   * decides the wait before a retry, or that GoKart's Retry-After is too far to wait for.
   */
  private failedAttempt(err: unknown): unknown {
    const state = err instanceof AxiosError ? err.config?.gokart : undefined;
    if (!(err instanceof AxiosError) || !err.config || !state) return err;
    const { config, request, response } = err;
    const timedOut = axios.isCancel(err) && !state.callerSignal?.aborted;
    // The wait before a retry listens only to the caller; the next attempt gets a new signal.
    config.signal = state.callerSignal;
    if (response && Buffer.isBuffer(response.data)) {
      try {
        response.data = bodyText(response);
      } catch {
        response.data = '';
      }
    }
    if (timedOut) {
      const seconds = this.config.timeoutMs / 1000;
      return new AxiosError(`no complete answer within ${seconds} s`, 'ETIMEDOUT', config, request);
    }
    if (err.code === AxiosError.ERR_BAD_RESPONSE && err.message.startsWith('maxContentLength')) {
      return new AxiosError(
        `more than ${mib(MAX_RESPONSE_BYTES)} received`,
        TOO_LARGE,
        config,
        request,
      );
    }
    if (!isRetryable(err)) return err;
    const now = Date.now();
    state.retryAt = retryAfterAt(response, now);
    const retryAfterMs = state.retryAt === undefined ? undefined : state.retryAt - now;
    const attempt =
      ((config['axios-retry'] as { retryCount?: number } | undefined)?.retryCount ?? 0) + 1;
    const backoffMs = exponentialDelay(attempt - 1, undefined, this.config.retryBaseDelayMs);
    state.nextWaitMs = retryWaitMs(backoffMs, retryAfterMs, state.waitedMs);
    if (state.nextWaitMs === undefined) {
      return new AxiosError(err.message, WAIT_TOO_LONG, config, request, response);
    }
    return err;
  }

  async fetchPage(query: ListQuery, signal?: AbortSignal): Promise<OffersPage> {
    const params = new URLSearchParams({
      page: String(query.page),
      page_size: String(this.config.pageSize),
      ...query.params,
    });
    const page = await this.get<ServedPage>(`${query.path}?${params}`, query, signal);
    // A server that omits pageSize (or sends 0) is taken to use the size asked for.
    return { ...page, pageSize: page.pageSize || this.config.pageSize };
  }

  /**
   * One object by id. Its `data` may be the object or a page holding exactly that one
   * object; anything else (another id, more items) is an error naming the id.
   */
  async fetchObject(query: ObjectQuery, signal?: AbortSignal): Promise<ApiRecord> {
    const data = await this.get<{ id?: unknown; items?: ApiRecord[] }>(query.path, query, signal);
    // The envelope check made it an object with an id, or else a page (which has no id).
    const items = typeof data.id === 'string' ? undefined : data.items;
    const where = `GoKart answered the request for ${describeQuery(query)}`;
    if (items && items.length !== 1) {
      throw new ApiError(
        `${where} with a list of ${items.length} offers instead of that one offer`,
        'system_error',
      );
    }
    const record = items ? items[0] : (data as ApiRecord);
    if (record.id !== query.id) {
      throw new ApiError(
        `${where} with offer ${JSON.stringify(cleanServerText(record.id, 100))} instead`,
        'system_error',
      );
    }
    return record;
  }

  /** The one code path of every request: its envelope's `data`, or an ApiError naming the query. */
  private async get<T>(url: string, query: ApiQuery, signal?: AbortSignal): Promise<T> {
    try {
      const response = await this.http.get<T>(url, {
        gokart: { query, callerSignal: signal, waitedMs: 0 },
      });
      return response.data;
    } catch (err) {
      throw toApiError(err, query, this.config);
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * Aborts after `ms`, or with the caller. Not AbortSignal.timeout: a signal only
 * AbortSignal.any refers to may be garbage-collected, and its timer with it.
 */
function attemptSignal(ms: number, caller: AbortSignal | undefined): AbortSignal {
  const controller = new AbortController();
  setTimeout(
    () => controller.abort(new DOMException('attempt timed out', 'TimeoutError')),
    ms,
  ).unref();
  return caller ? AbortSignal.any([caller, controller.signal]) : controller.signal;
}

/** When GoKart's Retry-After (seconds or an HTTP date) says it takes requests again, epoch ms. */
function retryAfterAt(response: AxiosResponse | undefined, now: number): number | undefined {
  const value = String(response?.headers['retry-after'] ?? '').trim();
  if (value === '') return undefined;
  const at = /^\d+$/.test(value) ? now + Number(value) * 1000 : Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(at, now);
}

function mib(bytes: number): string {
  return `${bytes / (1024 * 1024)} MiB`;
}

/** The body as text; decompressed here rather than by axios, so that size is capped too. */
function bodyText(response: AxiosResponse): string {
  const raw = response.data as Buffer;
  const options = { maxOutputLength: MAX_RESPONSE_BYTES };
  const encoding = String(response.headers['content-encoding'] ?? '')
    .trim()
    .toLowerCase();
  let body: Buffer;
  if (encoding === '' || encoding === 'identity') body = raw;
  else if (['gzip', 'x-gzip', 'deflate'].includes(encoding)) body = zlib.unzipSync(raw, options);
  else if (encoding === 'br') body = zlib.brotliDecompressSync(raw, options);
  else throw new Error(`unsupported Content-Encoding ${encoding}`);
  return body.toString('utf8').replace(/^\uFEFF/, '');
}

function parseEnvelope(response: AxiosResponse): AxiosResponse {
  try {
    response.data = bodyText(response);
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      const message = `more than ${mib(MAX_RESPONSE_BYTES)} after decompression`;
      throw new AxiosError(message, TOO_LARGE, response.config, response.request);
    }
    throw badBody(response, `the body could not be decompressed (${errorText(err)})`);
  }
  let body: unknown;
  try {
    body = JSON.parse(response.data as string);
  } catch {
    throw badBody(response, 'the body is not JSON (truncated or an HTML error page?)');
  }
  const query = response.config.gokart?.query;
  const envelopeValidator =
    query && !('page' in query) ? validators().objectEnvelope : validators().envelope;
  if (!envelopeValidator(body)) {
    const e = envelopeValidator.errors?.[0];
    const where = e?.instancePath ? `${e.instancePath.slice(1).replace(/\//g, '.')} ` : '';
    const reason =
      e?.instancePath === '/isSuccessful'
        ? `isSuccessful is not true${apiMessages(body)}`
        : `${where}${e?.message ?? 'is not the expected envelope'}`;
    throw badBody(response, reason);
  }
  response.data = (body as { data: unknown }).data;
  return response;
}

function badBody(response: AxiosResponse, reason: string): AxiosError {
  return new AxiosError(reason, BAD_BODY, response.config, response.request, response);
}

function isRetryable(error: AxiosError): boolean {
  if (axios.isCancel(error) || error.code === 'ERR_CANCELED') return false;
  // A host name that does not exist (a mistyped tenant) will not appear by retrying.
  if (error.code === 'ENOTFOUND') return false;
  if (error.code === TOO_LARGE || error.code === WAIT_TOO_LONG) return false;
  if (error.code === BAD_BODY) return true;
  const status = error.response?.status;
  // No status: network error, reset or timeout. A 2xx that still failed: the body was cut off.
  if (status === undefined || status < 300) return true;
  return status === 429 || status >= 500;
}

/** The API's own error text, when the body is an envelope with messages; cleaned and capped. */
function apiMessages(body: unknown): string {
  const messages = (body as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(messages) || messages.length === 0) return '';
  return ` (API said: ${cleanServerText(messages.map(String).join('; '))})`;
}

function describeFailure(error: AxiosError): string {
  if (error.code === BAD_BODY) return `HTTP 200 but ${error.message}`;
  if (error.response && error.response.status < 300) {
    return `the response was cut off (${error.message})`;
  }
  if (error.response) {
    let body: unknown;
    try {
      body = JSON.parse(String(error.response.data));
    } catch {
      body = undefined;
    }
    return `HTTP ${error.response.status}${apiMessages(body)}`;
  }
  if (error.code === 'ETIMEDOUT') return `the request timed out (${error.message})`;
  if (error.code === 'ECONNABORTED') return 'the request timed out';
  return `network error ${error.code ?? ''} ${error.message}`.trim();
}

/** A final, user-facing error: says what happened and where; never carries request headers. */
export function toApiError(err: unknown, query: ApiQuery, config: GoKartConfig): ApiError {
  const page = 'page' in query ? query.page : undefined;
  const target = describeQuery(query);
  if (axios.isCancel(err))
    return new ApiError(`Request for ${target} was cancelled`, 'system_error', undefined, page);
  if (!(err instanceof AxiosError)) {
    return new ApiError(
      `Reading ${target} failed: ${String(err)}`,
      'system_error',
      undefined,
      page,
    );
  }
  const host = new URL(config.baseUrl).host;
  const attempts =
    (err.config?.['axios-retry'] as { retryCount?: number } | undefined)?.retryCount ?? 0;
  const after = attempts > 0 ? ` after ${attempts + 1} attempts` : '';
  const status = err.response?.status;
  const what = describeFailure(err);
  let message: string;
  let failureType: FailureType = 'transient_error';
  switch (true) {
    case status === 401:
      message = `GoKart rejected the API token (${what}) while reading ${target}: check api_token`;
      failureType = 'config_error';
      break;
    case status === 403:
      message = `The API token is not allowed to read ${query.what} at ${host} (${what}): check api_token and tenant`;
      failureType = 'config_error';
      break;
    case status === 404:
      message =
        page === undefined
          ? `GoKart has no ${target} (${what})`
          : `GoKart has no ${query.what} endpoint at ${config.baseUrl}${query.path} (${what}): check tenant or api_url`;
      failureType = 'config_error';
      break;
    case status !== undefined && status >= 300 && status < 400: {
      const location: unknown = err.response?.headers?.location;
      const to = location
        ? `to ${JSON.stringify(cleanServerText(String(location), 200))}`
        : 'without a Location header';
      message = `GoKart answered a redirect (${what}) for ${target} ${to}, which the connector does not follow: check tenant or api_url`;
      failureType = 'config_error';
      break;
    }
    case status !== undefined && status >= 400 && status < 500 && status !== 429:
      message = `GoKart refused the request for ${target} (${what})`;
      failureType = 'system_error';
      break;
    case err.code === TOO_LARGE:
      message =
        `GoKart's response for ${target} exceeded the ${mib(MAX_RESPONSE_BYTES)} size limit ` +
        `(${err.message}), so the connector stopped reading it; ` +
        (page === undefined
          ? "one offer's details are normally a few KB"
          : `a page of ${config.pageSize} offers is normally tens of KB`) +
        ': check api_url, or report it to GoKart';
      failureType = 'system_error';
      break;
    case err.code === WAIT_TOO_LONG: {
      const now = Date.now();
      const at = retryAfterAt(err.response, now) ?? now;
      const when = new Date(at).toISOString().replace(/\.\d+Z$/, 'Z');
      message =
        `GoKart is rate limiting (${what}) and allows the next request at ${when} ` +
        `(in ${duration(at - now)}), beyond the ${duration(MAX_RETRY_WAIT_MS)} the connector ` +
        `waits in all for ${target}: run the sync again after that time`;
      break;
    }
    case err.code === 'ENOTFOUND':
      message = `Cannot resolve host ${host}: check the ${/^api\.[^.]+\.getgokart\.ai$/.test(host) ? 'tenant' : 'api_url'}, or the machine's DNS/network`;
      failureType = 'config_error';
      break;
    case err.code === 'EAI_AGAIN':
      message = `Cannot resolve host ${host} (DNS lookup failed${after}): check the network, then tenant (or api_url)`;
      break;
    case err.code === 'ECONNREFUSED':
      message = `Cannot connect to ${host}: connection refused${after}`;
      break;
    default:
      message = `Reading ${target} failed${after}: ${what}`;
  }
  return new ApiError(message, failureType, status, page);
}

/** 5 minutes, 10 hours: a wait as people say it. */
function duration(ms: number): string {
  if (ms < 120_000) return `${Math.ceil(ms / 1000)} seconds`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} minutes`;
  return `${Math.round(ms / 3_600_000)} hours`;
}
