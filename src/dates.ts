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

const DATE_TIME =
  /^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([Zz])|([+-])(\d\d):(\d\d))?$/;
/** Date.UTC reads years 0–99 as 1900–1999: shifting by 400 Gregorian years (146,097 days) avoids that. */
const SHIFT_YEARS = 400;
const SHIFT_MS = 146_097 * 86_400_000;
const MIN_MS = -62_167_219_200_000; // 0000-01-01T00:00:00.000Z
const MAX_MS = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

/** Epoch milliseconds of an RFC 3339 date-time, or undefined for anything else (see above). */
export function parseDateTime(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = DATE_TIME.exec(value);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const offsetHours = m[9] ? Number(m[10]) : 0;
  const offsetMinutes = m[9] ? Number(m[11]) : 0;
  if (hour > 23 || minute > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) {
    return undefined;
  }
  const midnight = Date.UTC(year + SHIFT_YEARS, month - 1, day);
  const date = new Date(midnight);
  // Date.UTC rolls 30 February over into March: a different month or day means no such date.
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
  const millis = Number((m[7] ?? '').slice(0, 3).padEnd(3, '0'));
  const offset = (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  const ms = midnight - SHIFT_MS + ((hour * 60 + minute) * 60 + second) * 1000 + millis - offset;
  return ms >= MIN_MS && ms <= MAX_MS ? ms : undefined;
}
