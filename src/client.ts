import axios, { AxiosError, AxiosInstance, AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import axiosRetry, { exponentialDelay, retryAfter } from 'axios-retry';
import http from 'http';
import https from 'https';
import { GoKartConfig } from './config';
import { ApiError, FailureType } from './errors';
import { cleanServerText } from './text';
import { validators } from './validators';

export const OFFERS_PATH = '/api/v1/sdk-offer-management/partner';

/** An offer as the API sends it: passed through unchanged. */
export interface Offer {
  id: string;
  launchDate?: string | null;
  [field: string]: unknown;
}

export interface OffersPage {
  pageIndex: number;
  /** The page size the server reports; the requested size when it reports none. */
  pageSize: number;
  totalCount: number;
  totalPages: number;
  hasNextPage: boolean;
  items: Offer[];
}

export interface PageRequest {
  page: number;
  /** Ask for newest launch first; undefined = the server's default order. */
  newestLaunchFirst?: boolean;
}

/** Told before each retry wait, so the source can log it and react to rate limits. */
export interface RetryNotice {
  page: number;
  attempt: number;
  delayMs: number;
  reason: string;
  rateLimited: boolean;
  /** When the server said (Retry-After) that it will take requests again, epoch ms. */
  quotaReset?: number;
}

/** A page as the envelope carries it: pageSize is optional there. */
type ServedPage = Omit<OffersPage, 'pageSize'> & { pageSize?: number };

/** Thrown by the response interceptor for a 200 whose body is not a usable envelope. */
const BAD_BODY = 'EGOKARTBODY';

/** Reads the offers list page by page: keep-alive, retries with backoff, strict envelope checks. */
export class GoKartClient {
  private readonly http: AxiosInstance;
  private readonly agent: http.Agent;

  constructor(
    private readonly config: GoKartConfig,
    private readonly onRetry: (notice: RetryNotice) => void = () => {},
  ) {
    const isHttps = config.baseUrl.startsWith('https:');
    this.agent = isHttps
      ? new https.Agent({ keepAlive: true })
      : new http.Agent({ keepAlive: true });
    this.http = axios.create({
      baseURL: config.baseUrl,
      timeout: config.timeoutMs,
      headers: { Authorization: `ApiToken ${config.apiToken}`, Accept: 'application/json' },
      // Parse ourselves: a body that is not the envelope must become a retryable error
      // that names the page, not an axios parse failure.
      responseType: 'text',
      transformResponse: (data: unknown) => data,
      transitional: { clarifyTimeoutError: true },
      maxRedirects: 0, // never follow a redirect with the token to another host
      ...(isHttps ? { httpsAgent: this.agent } : { httpAgent: this.agent }),
    });
    this.http.interceptors.response.use(parseEnvelope);
    axiosRetry(this.http, {
      retries: config.maxRetries,
      shouldResetTimeout: true, // the timeout is per attempt
      retryCondition: isRetryable,
      retryDelay: (attempt, error) => {
        const delayMs = Math.min(
          exponentialDelay(attempt - 1, error, config.retryBaseDelayMs),
          // Retry-After is honoured up to 10 minutes; exponential backoff alone is capped at 1 minute.
          Math.max(60_000, Math.min(retryAfter(error), 600_000)),
        );
        this.onRetry({
          page: pageOf(error.config),
          attempt,
          delayMs: Math.round(delayMs),
          reason: describeFailure(error),
          rateLimited: error.response?.status === 429,
          quotaReset: error.response?.headers['retry-after'] ? Date.now() + delayMs : undefined,
        });
        return delayMs;
      },
    });
  }

  async fetchPage(request: PageRequest, signal?: AbortSignal): Promise<OffersPage> {
    const params = new URLSearchParams({
      page: String(request.page),
      page_size: String(this.config.pageSize),
    });
    if (request.newestLaunchFirst) {
      params.set('orderby', 'LaunchDate');
      params.set('order_asc', 'false');
    }
    if (this.config.search) params.set('filter.search', this.config.search);
    if (this.config.offerType) params.set('filter.offer_type', this.config.offerType);
    try {
      const response = await this.http.get<ServedPage>(`${OFFERS_PATH}?${params}`, { signal });
      const page = response.data;
      // A server that omits pageSize (or sends 0) is taken to use the size asked for.
      return { ...page, pageSize: page.pageSize || this.config.pageSize };
    } catch (err) {
      throw toApiError(err, request.page, this.config);
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

function pageOf(config: InternalAxiosRequestConfig | undefined): number {
  const match = /[?&]page=(\d+)/.exec(config?.url ?? '');
  return match ? Number(match[1]) : -1;
}

function parseEnvelope(response: AxiosResponse): AxiosResponse {
  let body: unknown;
  try {
    body = JSON.parse(response.data as string);
  } catch {
    throw badBody(response, 'the body is not JSON (truncated or an HTML error page?)');
  }
  const envelopeValidator = validators().envelope;
  if (!envelopeValidator(body)) {
    const e = envelopeValidator.errors?.[0];
    const where = e?.instancePath ? `${e.instancePath.slice(1).replace(/\//g, '.')} ` : '';
    const reason =
      e?.instancePath === '/isSuccessful'
        ? `isSuccessful is not true${apiMessages(body)}`
        : `${where}${e?.message ?? 'is not the expected envelope'}`;
    throw badBody(response, reason);
  }
  response.data = (body as { data: ServedPage }).data;
  return response;
}

function badBody(response: AxiosResponse, reason: string): AxiosError {
  return new AxiosError(reason, BAD_BODY, response.config, response.request, response);
}

function isRetryable(error: AxiosError): boolean {
  if (axios.isCancel(error) || error.code === 'ERR_CANCELED') return false;
  // A host name that does not exist (a mistyped tenant) will not appear by retrying.
  if (error.code === 'ENOTFOUND') return false;
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
  if (error.code === 'ETIMEDOUT' || error.code === 'ECONNABORTED') return 'the request timed out';
  return `network error ${error.code ?? ''} ${error.message}`.trim();
}

/** A final, user-facing error: says what happened and where; never carries request headers. */
export function toApiError(err: unknown, page: number, config: GoKartConfig): ApiError {
  if (axios.isCancel(err))
    return new ApiError(`Request for page ${page} was cancelled`, 'system_error', undefined, page);
  if (!(err instanceof AxiosError)) {
    return new ApiError(
      `Reading page ${page} failed: ${String(err)}`,
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
      message = `GoKart rejected the API token (${what}) while reading page ${page}: check api_token`;
      failureType = 'config_error';
      break;
    case status === 403:
      message = `The API token is not allowed to read offers at ${host} (${what}): check api_token and tenant`;
      failureType = 'config_error';
      break;
    case status === 404:
      message = `GoKart has no offers endpoint at ${config.baseUrl}${OFFERS_PATH} (${what}): check tenant or api_url`;
      failureType = 'config_error';
      break;
    case status !== undefined && status >= 300 && status < 400:
      message = `GoKart answered a redirect (${what}) for page ${page}, which the connector does not follow: check tenant or api_url`;
      failureType = 'config_error';
      break;
    case status !== undefined && status >= 400 && status < 500 && status !== 429:
      message = `GoKart refused the request for page ${page} (${what})`;
      failureType = 'system_error';
      break;
    case err.code === 'ENOTFOUND':
      message = `Cannot resolve host ${host}: check tenant (or api_url)`;
      failureType = 'config_error';
      break;
    case err.code === 'EAI_AGAIN':
      message = `Cannot resolve host ${host} (DNS lookup failed${after}): check the network, then tenant (or api_url)`;
      break;
    case err.code === 'ECONNREFUSED':
      message = `Cannot connect to ${host}: connection refused${after}`;
      break;
    default:
      message = `Reading page ${page} failed${after}: ${what}`;
  }
  return new ApiError(message, failureType, status, page);
}
