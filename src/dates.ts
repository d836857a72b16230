/**
 * The one date-time parser of the connector, used for start_date, the saved
 * cursor, offers' launch dates in the scan and the typed columns of `sync`.
 *
 * Accepted: RFC 3339 date-times, `YYYY-MM-DDThh:mm:ss[.fraction][offset]`, with
 * `T`, `t` or a space between date and time, any number of fraction digits (kept
 * to the millisecond, truncated) and an offset `Z`, `z` or `±hh:mm`. A missing
 * offset means UTC, whatever the machine's time zone. Everything else is refused:
 * other shapes ("garbage 2020", "1", a date without a time), dates that do not
 * exist (30 February, month 13), hour 24 (RFC 3339 has none, though older ISO 8601
 * reads 24:00 as the next midnight) and leap seconds (:60), which epoch time cannot
 * hold. Accepted instants lie in years 0000–9999 UTC, so each one formats back with
 * toISOString into a value this parser accepts.
 */

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const MIN_MS = -62_167_219_200_000; // 0000-01-01T00:00:00.000Z
const MAX_MS = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

/**
 * Epoch milliseconds of an RFC 3339 date-time, or undefined for anything else (see above).
 * Read character by character, the grammar of
 * /^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:[Zz]|[+-]\d\d:\d\d)?$/
 * (a sync parses two dates a record: warmed, some seven times faster than that regex).
 */
export function parseDateTime(value: unknown): number | undefined {
  if (typeof value !== 'string' || value.length < 19) return undefined;
  const s = value;
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  const second = digits(s, 17, 2);
  const t = s.charCodeAt(10);
  if (
    (year | month | day | hour | minute | second) < 0 ||
    s[4] !== '-' ||
    s[7] !== '-' ||
    (t !== 84 /* T */ && t !== 116 /* t */ && t !== 32) ||
    s[13] !== ':' ||
    s[16] !== ':'
  ) {
    return undefined;
  }
  let i = 19;
  let millis = 0;
  if (s[i] === '.') {
    const start = ++i;
    while (isDigit(s.charCodeAt(i))) i++;
    if (i === start) return undefined;
    for (let k = start; k < start + 3; k++)
      millis = millis * 10 + (k < i ? s.charCodeAt(k) - 48 : 0);
  }
  let offsetMinutes = 0;
  if (i < s.length) {
    const sign = s[i];
    if ((sign === 'Z' || sign === 'z') && i + 1 === s.length) {
      // UTC
    } else if ((sign === '+' || sign === '-') && i + 6 === s.length && s[i + 3] === ':') {
      const oh = digits(s, i + 1, 2);
      const om = digits(s, i + 4, 2);
      if (oh < 0 || om < 0 || oh > 23 || om > 59) return undefined;
      offsetMinutes = (sign === '-' ? -1 : 1) * (oh * 60 + om);
    } else {
      return undefined;
    }
  }
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const monthDays = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1];
  if (!(day >= 1 && day <= monthDays) || hour > 23 || minute > 59 || second > 59) return undefined;
  const ms =
    ((daysFromEpoch(year, month, day) * 24 + hour) * 60 + minute - offsetMinutes) * 60_000 +
    second * 1000 +
    millis;
  return ms >= MIN_MS && ms <= MAX_MS ? ms : undefined;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/** The number written by `count` ASCII digits at `at`, or -1 if they are not all digits. */
function digits(s: string, at: number, count: number): number {
  let n = 0;
  for (let k = at; k < at + count; k++) {
    const code = s.charCodeAt(k);
    if (!isDigit(code)) return -1;
    n = n * 10 + code - 48;
  }
  return n;
}

/**
 * Days from 1970-01-01 to a valid proleptic Gregorian date (H. Hinnant's days_from_civil):
 * plain arithmetic, some three times faster than going through Date, and right for years 0–99.
 */
function daysFromEpoch(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * ((month + 9) % 12) + 2) / 5) + day - 1; // from 1 March
  const dayOfEra =
    yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}
