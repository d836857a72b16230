import { resolveConfig, validateConfig } from '../src/config';
import { ConfigError } from '../src/errors';

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
      { ...base, offer_types: ['Bogus'] },
      'offer_types.0 must be equal to one of the allowed values',
    ],
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
