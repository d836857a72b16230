import { loadConfigInput, resolveConfig, validateConfig } from '../src/config';
import { ConfigError } from '../src/errors';
import { didYouMean, editDistance } from '../src/suggest';

const base = { api_token: 'tok-123456', tenant: 'acme' };

function problem(config: unknown): string {
  try {
    validateConfig(config);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected the config to be rejected');
}

describe('validateConfig', () => {
  it('applies the spec defaults and resolves the tenant URL', () => {
    const config = resolveConfig(validateConfig(base));
    expect(config).toMatchObject({
      baseUrl: 'https://api.acme.getgokart.ai',
      pageSize: 100,
      concurrency: 4,
      timeoutMs: 30_000,
      maxRetries: 5,
      lookbackMs: 3 * 86_400_000,
    });
    expect(config.offerType).toBeUndefined();
  });

  it('treats optional fields left blank as not set', () => {
    const config = resolveConfig(
      validateConfig({ ...base, api_url: '', start_date: '', search: '' }),
    );
    expect(config).toMatchObject({
      baseUrl: 'https://api.acme.getgokart.ai',
      startDate: undefined,
      search: undefined,
    });
    expect(problem({ api_token: 't', tenant: '', api_url: '' })).toContain(
      'one of tenant or api_url is required',
    );
  });

  it('ignores unknown properties', () => {
    expect(() => validateConfig({ ...base, something_new: 1 })).not.toThrow();
  });

  it.each([
    [{ tenant: 'acme' }, 'api_token is required'],
    [{ ...base, page_size: 500 }, 'page_size must be <= 100 (got 500)'],
    [{ ...base, page_size: 0 }, 'page_size must be >= 1'],
    [{ ...base, tenant: 'acme.evil.com' }, 'tenant must be one DNS label'],
    [{ ...base, tenant: 'evil.com/x?' }, 'tenant must be one DNS label'],
    [{ ...base, start_date: 'yesterday' }, 'start_date must be a date-time'],
    [
      { ...base, offer_types: ['Single'] },
      'offer_types[0] must be one of SingleEvent, MultiEvent (got "Single")',
    ],
    [{ ...base, tenant: 5 }, 'tenant must be a text (got 5)'],
    [{ ...base, page_size: '10' }, 'page_size must be a whole number (got "10")'],
    [{ ...base, offer_types: 'SingleEvent' }, 'offer_types must be a list (got "SingleEvent")'],
    [{ api_token: '', tenant: 'acme' }, 'api_token must not be empty'],
    [{ ...base, concurrency: 17 }, 'concurrency must be <= 16'],
    [{ ...base, lookback_days: -1 }, 'lookback_days must be >= 0'],
    [{ api_token: 'tok-123456' }, 'one of tenant or api_url is required'],
    [{ api_token: 'tok-123456', api_url: 'http://example.com' }, 'api_url must use https'],
    [{ api_token: 'tok-123456', api_url: 'not a url' }, 'api_url is not a valid URL'],
  ])('rejects %j naming the field', (config, expected) => {
    expect(problem(config)).toContain(expected);
  });

  it('names a bad start_date once, though both its format and its pattern fail', () => {
    const message = problem({ ...base, start_date: 'yesterday' });
    expect(message.match(/start_date/g)).toHaveLength(1);
  });

  it('reports every violation at once', () => {
    const message = problem({ api_token: 'x', tenant: 'a.b', page_size: 500, start_date: 'nope' });
    expect(message).toContain('tenant');
    expect(message).toContain('page_size');
    expect(message).toContain('start_date');
  });

  it('never echoes the token', () => {
    expect(problem({ api_token: 12345678, tenant: 'acme' })).not.toContain('12345678');
  });

  it.each([
    ['tok-123456\n', 'contains a line break at character 11 of 11'],
    ['tok-\r\n123456', 'contains a carriage return at character 5 of 12'],
    ['tok-\u0000123456', 'contains a NUL character at character 5'],
    ['tok-\t123456', 'contains a tab'],
    ['tok-\u001b[2J', 'contains the control character U+001B'],
    ['tok-€123456', 'contains a non-ASCII character'],
    ['tok-\u00a0123456', 'contains a non-ASCII character'], // a no-break space copied from a web page
    [' tok-123456', 'starts or ends with a space'],
    ['tok-123456 ', 'starts or ends with a space'],
  ])('refuses a token that HTTP would send changed: %j', (api_token, expected) => {
    const message = problem({ ...base, api_token });
    expect(message).toContain(`api_token ${expected}`);
    expect(message).not.toContain('123456');
  });

  it('accepts any printable ASCII token, quotes and backslashes included', () => {
    expect(() => validateConfig({ ...base, api_token: 'a"b\\c d~!{}' })).not.toThrow();
  });

  it('allows http only to loopback hosts', () => {
    for (const url of [
      'http://127.0.0.1:8080',
      'http://localhost:1',
      'https://proxy.example.com/base/',
    ]) {
      expect(() => validateConfig({ api_token: 't', api_url: url })).not.toThrow();
    }
    expect(
      resolveConfig(validateConfig({ api_token: 't', api_url: 'https://p.example.com/base/' }))
        .baseUrl,
    ).toBe('https://p.example.com/base');
    expect(problem({ api_token: 't', api_url: 'http://10.0.0.1' })).toContain(
      'api_url must use https',
    );
  });

  it('sends one offer type as a filter, and none for both', () => {
    const one = resolveConfig(validateConfig({ ...base, offer_types: ['SingleEvent'] }));
    const both = resolveConfig(
      validateConfig({ ...base, offer_types: ['SingleEvent', 'MultiEvent'] }),
    );
    expect(one.offerType).toBe('SingleEvent');
    expect(both.offerType).toBeUndefined();
  });
});

describe('validation wording', () => {
  it('says "must not be empty" and lists allowed values, never Ajv\'s wording', () => {
    const message = problem({ api_token: '', tenant: 'acme', offer_types: ['Single', 'Multi'] });
    expect(message).toBe(
      'Invalid configuration: api_token must not be empty; ' +
        'offer_types[0] must be one of SingleEvent, MultiEvent (got "Single"); ' +
        'offer_types[1] must be one of SingleEvent, MultiEvent (got "Multi")',
    );
    expect(problem([])).toBe('Invalid configuration: config must be a JSON object');
  });

  it('points a missing option at the key that looks like its typo', () => {
    expect(problem({ api_tokn: 'tok-123456', tenant: 'acme' })).toBe(
      'Invalid configuration: api_token is required (found api_tokn: did you mean api_token?)',
    );
    expect(problem({ api_token: 'tok-123456', tennant: 'acme' })).toBe(
      'Invalid configuration: one of tenant or api_url is required (found tennant: did you mean tenant?)',
    );
  });
});

describe('loadConfigInput', () => {
  const file = { api_token: 'tok-file-1', tenant: 'acme' };

  it('warns about every unknown key, suggesting the option it most likely meant', () => {
    const { raw, warnings } = loadConfigInput({
      file: { ...file, start_dte: 'x', page_sise: 5, pageSize: 5, token: 't', zzz: 1 },
      env: {},
    });
    expect(warnings).toEqual([
      'unknown key start_dte: did you mean start_date?',
      'unknown key page_sise: did you mean page_size?',
      'unknown key pageSize: did you mean page_size?',
      'unknown key token: did you mean api_token?',
      'unknown key zzz: not a GoKart option, ignored',
    ]);
    expect(raw).toMatchObject(file);
  });

  it('reads every option from GOKART_<OPTION>, typed by the spec', () => {
    const { raw, warnings, fromEnv, secrets } = loadConfigInput({
      env: {
        GOKART_API_TOKEN: 'tok-env-1',
        GOKART_TENANT: 'acme',
        GOKART_PAGE_SIZE: '25',
        GOKART_OFFER_TYPES: 'SingleEvent, MultiEvent',
        GOKART_SEARCH: 'summer sale',
        GOKART_LOOKBACK_DAYS: '',
        GOKART_RETRY_BASE_MS: '20',
      },
    });
    expect(raw).toEqual({
      api_token: 'tok-env-1',
      tenant: 'acme',
      page_size: 25,
      offer_types: ['SingleEvent', 'MultiEvent'],
      search: 'summer sale',
    });
    expect(warnings).toEqual([]);
    expect(fromEnv).toEqual([
      'GOKART_API_TOKEN',
      'GOKART_TENANT',
      'GOKART_OFFER_TYPES',
      'GOKART_SEARCH',
      'GOKART_PAGE_SIZE',
    ]);
    expect(secrets).toEqual(['tok-env-1']);
    expect(resolveConfig(validateConfig(raw)).pageSize).toBe(25);
  });

  it('keeps a variable that is not of its type as text, so validation names it', () => {
    const { raw } = loadConfigInput({ file, env: { GOKART_CONCURRENCY: 'lots' } });
    expect(problem(raw)).toBe(
      'Invalid configuration: concurrency must be a whole number (got "lots")',
    );
  });

  it('lets the file win over a variable, with a warning naming it; equal values need none', () => {
    const { raw, warnings, secrets } = loadConfigInput({
      file,
      env: { GOKART_API_TOKEN: 'tok-env-2', GOKART_TENANT: 'acme', GOKART_PAGE_SIZE: '10' },
    });
    expect(raw).toEqual({ ...file, page_size: 10 });
    expect(warnings).toEqual(['the config file sets api_token, so GOKART_API_TOKEN is ignored']);
    expect(secrets).toEqual(['tok-file-1', 'tok-env-2']); // both are scrubbed
  });

  it('needs a config file or at least one variable', () => {
    expect(() => loadConfigInput({ env: {} })).toThrow(
      /^Invalid configuration: no config file and no GOKART_\* environment variables/,
    );
  });

  it('leaves a file that is not an object to validation', () => {
    expect(loadConfigInput({ file: [1], env: {} }).raw).toEqual([1]);
  });
});

describe('didYouMean', () => {
  const options = ['api_token', 'tenant', 'start_date', 'page_size', 'max_retries'];

  it.each([
    ['tenatn', 'tenant'], // two letters swapped: one edit
    ['Start-Date', 'start_date'],
    ['startDate', 'start_date'],
    ['retries', 'max_retries'], // contained in it
    ['page', 'page_size'],
    ['colour', undefined],
    ['id', undefined],
  ])('%s → %s', (word, meant) => {
    expect(didYouMean(word, options)).toBe(meant);
  });

  it('counts a swap of neighbours as one edit', () => {
    expect(editDistance('tenatn', 'tenant')).toBe(1);
    expect(editDistance('page_sise', 'page_size')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
  });
});
