import { parseDateTime } from '../src/dates';
import { resolveConfig, validateConfig } from '../src/config';
import { mulberry32 } from '../tools/simulator';

const utc = (iso: string) => new Date(iso).getTime(); // only ever given ...Z values

describe('parseDateTime', () => {
  it.each([
    ['2026-03-03T22:00:00Z', '2026-03-03T22:00:00.000Z'],
    ['2026-03-03t22:00:00z', '2026-03-03T22:00:00.000Z'],
    ['2026-03-03 22:00:00Z', '2026-03-03T22:00:00.000Z'],
    ['2026-03-03T22:00:00+00:00', '2026-03-03T22:00:00.000Z'],
    ['2026-03-03T22:00:00-00:00', '2026-03-03T22:00:00.000Z'],
    ['2026-03-03T22:00:00+05:30', '2026-03-03T16:30:00.000Z'],
    ['2026-03-03T22:00:00-08:00', '2026-03-04T06:00:00.000Z'],
    ['2026-03-03T23:30:00+14:00', '2026-03-03T09:30:00.000Z'],
    ['2026-03-03T22:00:00.5Z', '2026-03-03T22:00:00.500Z'],
    ['2026-03-03T22:00:00.123Z', '2026-03-03T22:00:00.123Z'],
    ['2026-03-03T22:00:00.1239999+01:00', '2026-03-03T21:00:00.123Z'], // truncated to ms
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'], // leap year
    ['2000-02-29T12:00:00Z', '2000-02-29T12:00:00.000Z'],
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'], // Date.UTC would say 1901
    ['0099-12-31T23:59:59Z', '0099-12-31T23:59:59.000Z'],
    ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
  ])('reads %s as %s', (text, iso) => {
    expect(parseDateTime(text)).toBe(utc(iso));
  });

  it('reads a date-time without an offset as UTC, whatever the local time zone', () => {
    expect(parseDateTime('2026-03-03T22:00:00')).toBe(utc('2026-03-03T22:00:00Z'));
    expect(parseDateTime('2026-03-03T22:00:00.250')).toBe(utc('2026-03-03T22:00:00.250Z'));
    expect(parseDateTime('2026-03-03 22:00:00')).toBe(utc('2026-03-03T22:00:00Z'));
  });

  it.each([
    ['garbage 2020'],
    ['1'],
    [''],
    ['2026'],
    ['2026-03-03'], // a date without a time
    ['2026-03-03T22:00Z'], // no seconds
    ['2026-02-30T00:00:00Z'], // no 30 February
    ['2025-02-29T00:00:00Z'], // not a leap year
    ['1900-02-29T00:00:00Z'], // nor is 1900
    ['2026-04-31T00:00:00Z'],
    ['2026-13-01T00:00:00Z'],
    ['2026-00-10T00:00:00Z'],
    ['2026-01-00T00:00:00Z'],
    ['2026-01-01T24:00:00Z'], // RFC 3339 has no hour 24: not read as the next midnight
    ['2026-01-01T23:60:00Z'],
    ['2016-12-31T23:59:60Z'], // leap second
    ['2026-01-01T00:00:00+24:00'],
    ['2026-01-01T00:00:00+05:60'],
    ['2026-01-01T00:00:00+0530'], // RFC 3339 offsets have a colon
    ['2026-01-01T00:00:00+05'],
    ['2026-01-01T00:00:00.Z'],
    ['2026-01-01T00:00:00,5Z'],
    ['2026-01-01T00:00:00 Z'],
    [' 2026-01-01T00:00:00Z'],
    ['2026-01-01T00:00:00Z\n'],
    ['+012026-01-01T00:00:00Z'], // expanded years
    ['Tue, 03 Mar 2026 22:00:00 GMT'],
    ['0000-01-01T00:00:00+00:01'], // before year 0000 in UTC
    ['9999-12-31T23:59:59-00:01'], // after year 9999 in UTC
  ])('refuses %j', (text) => {
    expect(parseDateTime(text)).toBeUndefined();
  });

  it.each([[null], [undefined], [1_700_000_000_000], [{}], [['2026-01-01T00:00:00Z']]])(
    'refuses the non-string %j',
    (value) => expect(parseDateTime(value)).toBeUndefined(),
  );

  it('reads back every instant it accepts from its toISOString form', () => {
    for (const text of [
      '0000-01-01T00:00:00Z',
      '0000-01-01T10:00:00+09:59',
      '1969-12-31T23:59:59.999Z',
      '9999-12-31T23:59:59.999+00:00',
      '2026-03-03T22:00:00-08:00',
    ]) {
      const ms = parseDateTime(text);
      expect(ms).toBeDefined();
      expect(parseDateTime(new Date(ms!).toISOString())).toBe(ms);
    }
  });
});

/**
 * The grammar as a regular expression, and the checks after it: what parseDateTime did
 * before it read the text character by character. Kept to prove the two agree.
 */
function parseWithRegex(value: string): number | undefined {
  const m =
    /^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([Zz])|([+-])(\d\d):(\d\d))?$/.exec(
      value,
    );
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [+m[1], +m[2], +m[3], +m[4], +m[5], +m[6]];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const monthDays =
    month === 2 && leap ? 29 : [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  if (!(day >= 1 && day <= monthDays) || hour > 23 || minute > 59 || second > 59) return undefined;
  if (m[9] && (+m[10] > 23 || +m[11] > 59)) return undefined;
  const offset = m[9] ? (m[9] === '-' ? -1 : 1) * (+m[10] * 60 + +m[11]) : 0;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // years 0–99 too, which Date.UTC would move to 19xx
  const millis = m[7] ? +m[7].slice(0, 3).padEnd(3, '0') : 0;
  const ms = date.setUTCHours(hour, minute - offset, second, millis);
  return ms >= -62_167_219_200_000 && ms <= 253_402_300_799_999 ? ms : undefined;
}

describe('parseDateTime against the regular expression it replaced', () => {
  it('agrees on 200,000 mutated date-times', () => {
    const rnd = mulberry32(7);
    const pick = (chars: string) => chars[Math.floor(rnd() * chars.length)];
    const seeds = [
      '2026-03-03T22:00:00Z',
      '2024-02-29 23:59:59.123456+05:30',
      '0000-01-01t00:00:00-00:00',
      '9999-12-31T23:59:59.999z',
      '1999-12-31T12:00:00',
      '2026-03-03T22:00:00.5',
    ];
    let accepted = 0;
    for (let n = 0; n < 200_000; n++) {
      const chars = [...seeds[n % seeds.length]];
      for (let edits = Math.floor(rnd() * 3); edits > 0; edits--) {
        const at = Math.floor(rnd() * (chars.length + 1));
        const c = pick('0123456789012345678901234567890123456789-:.TtZz+ x٣\n');
        const op = rnd();
        if (op < 0.6) chars[at] = c;
        else if (op < 0.8) chars.splice(at, 0, c);
        else chars.splice(at, 1);
      }
      const text = chars.join('');
      const want = parseWithRegex(text);
      if (want !== undefined) accepted++;
      if (parseDateTime(text) !== want) {
        throw new Error(
          `${JSON.stringify(text)}: ${parseDateTime(text)} where the regex gives ${want}`,
        );
      }
    }
    expect(accepted).toBeGreaterThan(20_000); // valid and invalid texts both well represented
    expect(accepted).toBeLessThan(180_000);
  });
});

describe('start_date', () => {
  const config = (start_date: string) =>
    resolveConfig(validateConfig({ api_token: 'tok-123456', tenant: 'acme', start_date }));

  // Ajv's date-time format accepts these; the sync's parser does not, so the config refuses them.
  it.each([['2024-01-01T00:00:00+0100'], ['2016-12-31T23:59:60Z']])(
    'refuses %j, naming the field',
    (start) => {
      expect(() => config(start)).toThrow(
        `Invalid configuration: start_date must be a date-time such as 2024-01-01T00:00:00Z (got ${JSON.stringify(start)})`,
      );
    },
  );
});
