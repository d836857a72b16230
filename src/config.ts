import { ErrorObject } from 'ajv';
import fs from 'fs';
import { isDeepStrictEqual } from 'util';
import { parseDateTime } from './dates';
import { ConfigError } from './errors';
import { didYouMean } from './suggest';
import { SPEC_PATH, validators } from './validators';

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
  /** Base of the exponential backoff (Tuning); only tests and the benchmark lower it. */
  retryBaseDelayMs: number;
}

/** How a missing option's message points at a key that looks like a typo of it: ` (found … : did you mean …?)`. */
type Hints = (option: string) => string;

/** The spec's options (`connectionSpecification.properties`), in spec order. */
let specOptions: Record<string, { type?: string }> | undefined;
function options(): Record<string, { type?: string }> {
  specOptions ??= JSON.parse(fs.readFileSync(SPEC_PATH, 'utf8')).connectionSpecification
    .properties as Record<string, { type?: string }>;
  return specOptions;
}

/** The config's keys the spec does not know, each with the option it most likely meant. */
function unknownKeys(config: Record<string, unknown>): { key: string; meant?: string }[] {
  const known = Object.keys(options());
  return Object.keys(config)
    .filter((key) => !known.includes(key))
    .map((key) => ({ key, meant: didYouMean(key, known) }));
}

function hintsFor(config: Record<string, unknown>): Hints {
  const unknown = unknownKeys(config);
  return (option) => {
    const found = unknown.find((u) => u.meant === option);
    return found ? ` (found ${shownKey(found.key)}: did you mean ${option}?)` : '';
  };
}

/** A key as printed: as it is when it is a plain name, else quoted and cut. */
function shownKey(key: string): string {
  return /^[\w.-]{1,64}$/.test(key) ? key : JSON.stringify(key.slice(0, 64));
}

/** The environment variable for an option: GOKART_PAGE_SIZE for page_size. */
export function envVariable(option: string): string {
  return `GOKART_${option.toUpperCase()}`;
}

/**
 * The options the environment sets, typed by the spec: numbers, lists as comma
 * lists. A value that is not of its type is kept as text, so validation names it.
 */
function configFromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const [option, { type }] of Object.entries(options())) {
    const text = env[envVariable(option)];
    if (text === undefined || text === '') continue;
    if (type === 'integer' || type === 'number') {
      config[option] = /^\s*[+-]?\d+(\.\d+)?\s*$/.test(text) ? Number(text) : text;
    } else if (type === 'array') {
      config[option] = text
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean);
    } else {
      config[option] = text;
    }
  }
  return config;
}

export interface ConfigInput {
  /** The config to validate: the file's, plus the options only the environment sets. */
  raw: unknown;
  /** For the user (LOG WARN, or stderr): unknown keys, variables the file overrides. */
  warnings: string[];
  /** The GOKART_* variables that set an option. */
  fromEnv: string[];
  /** Every secret value seen, the file's and the environment's, to scrub from output. */
  secrets: string[];
}

/**
 * The config every command runs with: the config file (when given) and the
 * GOKART_<OPTION> variables. The file wins over a variable, with a warning
 * naming the variable, so a stray variable on a worker never changes a
 * configured sync silently. Throws when there is neither a file nor a variable.
 */
export function loadConfigInput({
  file,
  env,
}: {
  file?: unknown;
  env: NodeJS.ProcessEnv;
}): ConfigInput {
  const fromEnvConfig = configFromEnv(env);
  const secrets = [...secretsOf(file), ...secretsOf(fromEnvConfig)];
  if (file === undefined && Object.keys(fromEnvConfig).length === 0) {
    throw new ConfigError(
      'Invalid configuration: no config file and no GOKART_* environment variables: give --config <file>, ' +
        'or set GOKART_API_TOKEN and GOKART_TENANT (or GOKART_API_URL)',
    );
  }
  // Not an object: validation says so.
  if (file !== undefined && !isObject(file))
    return { raw: file, warnings: [], fromEnv: [], secrets };
  const raw: Record<string, unknown> = { ...file };
  const warnings = unknownKeys(raw).map(({ key, meant }) =>
    meant
      ? `unknown key ${shownKey(key)}: did you mean ${meant}?`
      : `unknown key ${shownKey(key)}: not a GoKart option, ignored`,
  );
  const fromEnv: string[] = [];
  for (const [option, value] of Object.entries(fromEnvConfig)) {
    if (!Object.hasOwn(raw, option)) {
      raw[option] = value;
      fromEnv.push(envVariable(option));
    } else if (!isDeepStrictEqual(raw[option], value)) {
      warnings.push(`the config file sets ${option}, so ${envVariable(option)} is ignored`);
    }
  }
  return { raw, warnings, fromEnv, secrets };
}

/** loadConfigInput for the CLI: the config file at `path` (if any) and the process environment. */
export function readConfigInput(path: string | undefined, env = process.env): ConfigInput {
  return loadConfigInput({
    file: path === undefined ? undefined : readJsonFile(path, 'config'),
    env,
  });
}

/** ` (1 warning: …)` for a message that reports success despite warnings; '' without any. */
export function warningsNote(warnings: readonly string[]): string {
  if (!warnings.length) return '';
  return ` (${warnings.length} warning${warnings.length === 1 ? '' : 's'}: ${warnings.join('; ')})`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
const DAY_MS = 24 * 60 * 60 * 1000;

/** `offer_types[0]` for Ajv's `/offer_types/0`. */
function fieldName(instancePath: string): string {
  const parts = instancePath.split('/').slice(1);
  return parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i ? `.${p}` : p)).join('') || 'config';
}

const TYPE_NAMES: Record<string, string> = {
  integer: 'a whole number',
  number: 'a number',
  string: 'a text',
  array: 'a list',
  object: 'an object',
  boolean: 'true or false',
};

/** One readable sentence per Ajv error, naming the field. */
function describe(error: ErrorObject, config: Record<string, unknown>, hints: Hints): string {
  if (error.keyword === 'required') {
    const field = String(error.params.missingProperty);
    return `${field} is required${hints(field)}`;
  }
  const field = fieldName(error.instancePath);
  const top = error.instancePath.split('/')[1];
  // The value at the error's path (never the token's).
  let value: unknown = config;
  for (const p of error.instancePath.split('/').slice(1)) {
    value = (value as Record<string, unknown>)?.[p];
  }
  const got = top !== 'api_token' && value !== undefined ? ` (got ${JSON.stringify(value)})` : '';
  switch (error.keyword) {
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
    case 'enum':
      return `${field} must be one of ${(error.params.allowedValues as unknown[]).join(', ')}${got}`;
    case 'type':
      return `${field} must be ${TYPE_NAMES[String(error.params.type)] ?? error.params.type}${got}`;
    case 'minLength':
      return error.params.limit === 1
        ? `${field} must not be empty`
        : `${field} must have at least ${error.params.limit} characters${got}`;
    case 'uniqueItems':
      return `${field} must not list a value twice${got}`;
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
  if (!isObject(input)) {
    throw new ConfigError('Invalid configuration: config must be a JSON object');
  }
  const config = structuredClone(input) as Record<string, unknown>;
  // Forms (the Airbyte UI among them) may send a field left blank as "": that means not set.
  for (const key of ['tenant', 'api_url', 'start_date', 'search']) {
    if (config[key] === '') delete config[key];
  }
  const validator = validators().config;
  const problems: string[] = [];
  const hints = hintsFor(config);
  if (!validator(config)) {
    for (const e of validator.errors ?? []) problems.push(describe(e, config, hints));
  }
  if (typeof config.api_token === 'string') {
    const problem = tokenProblem(config.api_token);
    if (problem) problems.push(problem);
  }
  if (config.tenant === undefined && config.api_url === undefined) {
    problems.push(`one of tenant or api_url is required${hints('tenant') || hints('api_url')}`);
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

/**
 * Knobs that are not user options: tests shorten the retry backoff and stop a sync mid-commit.
 * Passed in by the caller (see `MainOptions` in index.ts), never read from the environment.
 */
export interface Tuning {
  /** Base of the exponential retry backoff, default 500 ms. */
  retryBaseDelayMs?: number;
  /** `sync`: called in the commit transaction just before COMMIT (tests kill the process there). */
  beforeCommit?: () => void;
  /** `sync`: how much text a stage chunk holds before DuckDB loads it (default 16 MiB). */
  stageChunkBytes?: number;
  /** `sync`: DuckDB's first memory_limit, default DUCKDB_MEMORY_LIMIT (tests make it run out). */
  duckdbMemoryLimit?: string;
}

export function resolveConfig(raw: RawConfig, tuning: Tuning = {}): GoKartConfig {
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
    retryBaseDelayMs: tuning.retryBaseDelayMs ?? 500,
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
