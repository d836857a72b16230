import { ErrorObject } from 'ajv';
import fs from 'fs';
import { parseDateTime } from './dates';
import { ConfigError } from './errors';
import { validators } from './validators';

export { RESOURCES_DIR, SPEC_PATH } from './validators';

export type OfferType = 'SingleEvent' | 'MultiEvent';

/** The user's configuration as written in the spec (defaults applied). */
export interface RawConfig {
  api_token: string;
  tenant?: string;
  api_url?: string;
  page_size: number;
  start_date?: string;
  offer_types?: OfferType[];
  search?: string;
  lookback_days: number;
  concurrency: number;
  request_timeout_seconds: number;
  max_retries: number;
}

/** What the rest of the connector works with: validated and resolved. */
export interface GoKartConfig {
  apiToken: string;
  baseUrl: string;
  pageSize: number;
  startDate?: number; // epoch ms
  offerType?: OfferType; // undefined = no filter
  search?: string;
  lookbackMs: number;
  concurrency: number;
  timeoutMs: number;
  maxRetries: number;
  /** Base of the exponential backoff; only tests and the benchmark lower it. */
  retryBaseDelayMs: number;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
const DAY_MS = 24 * 60 * 60 * 1000;

/** One readable sentence per Ajv error, naming the field. */
function describe(error: ErrorObject, config: Record<string, unknown>): string {
  const field =
    error.keyword === 'required'
      ? String(error.params.missingProperty)
      : error.instancePath.replace(/^\//, '').replace(/\//g, '.') || 'config';
  const top = field.split('.')[0];
  const got = top in config && top !== 'api_token' ? ` (got ${JSON.stringify(config[top])})` : '';
  switch (error.keyword) {
    case 'required':
      return `${field} is required`;
    case 'pattern':
      if (field === 'tenant') {
        return `tenant must be one DNS label (letters, digits, hyphens), as in https://api.{tenant}.getgokart.ai${got}`;
      }
      // start_date's pattern (for the Airbyte UI) restates its format: the same message, listed once.
      if (field === 'start_date') {
        return `${field} must be a date-time such as 2024-01-01T00:00:00Z${got}`;
      }
      return `${field} has an invalid format${got}`;
    case 'format':
      return `${field} must be a ${error.params.format} such as 2024-01-01T00:00:00Z${got}`;
    default:
      return `${field} ${error.message}${got}`;
  }
}

function checkApiUrl(apiUrl: string): string {
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    throw new ConfigError(`api_url is not a valid URL (got ${JSON.stringify(apiUrl)})`);
  }
  const loopback = LOOPBACK_HOSTS.has(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new ConfigError(
      `api_url must use https (http is allowed only to a loopback host such as 127.0.0.1); got ${url.protocol}//${url.host}`,
    );
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new ConfigError('api_url must not contain credentials, a query string or a fragment');
  }
  return url.toString().replace(/\/+$/, '');
}

const TOKEN_CHAR_NAMES: Record<string, string> = {
  '\n': 'a line break',
  '\r': 'a carriage return',
  '\t': 'a tab',
  '\0': 'a NUL character',
};

/**
 * Why a token cannot be sent as it is written, if it cannot. An HTTP header
 * carries printable ASCII; axios silently drops line breaks, NULs and other
 * characters and trims the end, so such a token would reach GoKart changed.
 * Never quotes the token.
 */
function tokenProblem(token: string): string | undefined {
  const at = token.search(/[^\x20-\x7e]/);
  if (at >= 0) {
    const char = token[at];
    const code = `U+${char.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
    const what =
      TOKEN_CHAR_NAMES[char] ??
      (char < ' ' || char === '\x7f' ? `the control character ${code}` : 'a non-ASCII character');
    return (
      `api_token contains ${what} at character ${at + 1} of ${token.length}; an HTTP header ` +
      'cannot carry it, so the token would be sent changed: paste the token again without it'
    );
  }
  if (token !== token.trim()) {
    return 'api_token starts or ends with a space, which HTTP drops: paste the token again without it';
  }
  return undefined;
}

/**
 * Validates a config object against the spec and our own rules. Throws a
 * ConfigError listing every problem, each naming its field; never echoes the token.
 */
export function validateConfig(input: unknown): RawConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ConfigError('config must be a JSON object');
  }
  const config = structuredClone(input) as Record<string, unknown>;
  // Forms (the Airbyte UI among them) may send a field left blank as "": that means not set.
  for (const key of ['tenant', 'api_url', 'start_date', 'search']) {
    if (config[key] === '') delete config[key];
  }
  const validator = validators().config;
  const problems: string[] = [];
  if (!validator(config)) {
    for (const e of validator.errors ?? []) problems.push(describe(e, config));
  }
  if (typeof config.api_token === 'string') {
    const problem = tokenProblem(config.api_token);
    if (problem) problems.push(problem);
  }
  if (config.tenant === undefined && config.api_url === undefined) {
    problems.push('one of tenant or api_url is required');
  }
  // Ajv's date-time format is laxer than the parser the sync uses (offsets without a colon, leap seconds).
  if (typeof config.start_date === 'string' && parseDateTime(config.start_date) === undefined) {
    problems.push(
      `start_date must be a date-time such as 2024-01-01T00:00:00Z (got ${JSON.stringify(config.start_date)})`,
    );
  }
  if (typeof config.api_url === 'string') {
    try {
      checkApiUrl(config.api_url);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (problems.length) {
    throw new ConfigError(`Invalid configuration: ${[...new Set(problems)].join('; ')}`);
  }
  return config as unknown as RawConfig;
}

export function resolveConfig(raw: RawConfig): GoKartConfig {
  const types = raw.offer_types ?? [];
  return {
    apiToken: raw.api_token,
    baseUrl: raw.api_url ? checkApiUrl(raw.api_url) : `https://api.${raw.tenant}.getgokart.ai`,
    pageSize: raw.page_size,
    startDate: parseDateTime(raw.start_date),
    // The API documents one filter.offer_type value; both types means no filter.
    offerType: types.length === 1 ? types[0] : undefined,
    search: raw.search || undefined,
    lookbackMs: raw.lookback_days * DAY_MS,
    concurrency: raw.concurrency,
    timeoutMs: raw.request_timeout_seconds * 1000,
    maxRetries: raw.max_retries,
    retryBaseDelayMs: Number(process.env.GOKART_RETRY_BASE_MS) || 500,
  };
}

/**
 * The config's secret values, to scrub from anything printed. Read from the raw
 * config, so they are known even when the config is invalid; values too short
 * to be a real token are left out (scrubbing them would mangle ordinary text).
 */
export function secretsOf(rawConfig: unknown): string[] {
  const token = (rawConfig as { api_token?: unknown } | null)?.api_token;
  return typeof token === 'string' && token.length >= 4 ? [token] : [];
}

export function readJsonFile(file: string, what: string, outputHint?: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(
      `Cannot read the ${what} file ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    if (outputHint && looksLikeMessages(text)) {
      throw new ConfigError(
        `The ${what} file ${file} looks like connector output (Airbyte messages, one per line); ${outputHint}`,
      );
    }
    // V8's message quotes the text around the error, which may be a secret: keep only the position.
    const at = /position (\d+)/.exec((e as Error).message);
    throw new ConfigError(
      `The ${what} file ${file} is not valid JSON${at ? ` (error at character ${at[1]})` : ''}`,
    );
  }
}

/** True when the first two lines are JSON objects with a "type": Airbyte messages, one per line. */
function looksLikeMessages(text: string): boolean {
  const lines = text.split('\n', 3).filter((line) => line.trim());
  return (
    lines.length > 1 &&
    lines.slice(0, 2).every((line) => {
      try {
        return typeof JSON.parse(line)?.type === 'string';
      } catch {
        return false;
      }
    })
  );
}
