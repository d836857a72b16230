/**
 * Text from GoKart's server (the API's `messages`) reaches TRACE messages, logs,
 * the terminal and `_sync_runs`. It is cleaned on the way in: no control
 * characters (an ANSI escape sequence would drive the user's terminal) and a
 * bounded length (a 20 MB message must not become a 20 MB line).
 */

/** Most characters of server text kept in one message. */
export const SERVER_TEXT_MAX = 2000;

/* eslint-disable no-control-regex -- these patterns exist to match control characters */
// ANSI sequences: CSI (ESC [ … or the 8-bit CSI), OSC (ESC ] … BEL or ESC \), and 2-byte ESC sequences.
const ANSI = /(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]/g;
// What is left: C0 and C1 controls, DEL, and the bidirectional overrides that reorder what a terminal shows.
const CONTROL = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]+/g;
/* eslint-enable no-control-regex */

/** Drops ANSI escape sequences; any other run of control characters becomes one space. */
export function stripControl(text: string): string {
  return text.replace(ANSI, '').replace(CONTROL, ' ');
}

/** Server text made safe to print: no control characters, at most `max` characters kept. */
export function cleanServerText(text: string, max = SERVER_TEXT_MAX): string {
  const clean = stripControl(text);
  if (clean.length <= max) return clean;
  // Never split a surrogate pair.
  const end = /[\ud800-\udbff]/.test(clean[max - 1]) ? max - 1 : max;
  return `${clean.slice(0, end)}… (${clean.length - end} more characters cut)`;
}

/** A stream name's singular, for counts: `offers` → `offer`. */
export function singular(plural: string): string {
  return plural.replace(/s$/, '');
}

/** `1 offer`, `2 offers`: a count with its noun. */
export function plural(count: number, noun: string, digits = String(count)): string {
  return `${digits} ${noun}${count === 1 ? '' : 's'}`;
}

const MASK = '**********';

/**
 * The one secret scrubber: every output (Airbyte messages, stderr, `_sync_runs`)
 * goes through it. A secret is looked for as written and in its JSON-escaped
 * forms (once and twice: a message may quote a JSON text that is serialised
 * again), since a token containing `"` or `\` is escaped once it is in JSON.
 */
export class Scrubber {
  private forms: string[] = [];

  constructor(secrets: readonly string[] = []) {
    this.add(secrets);
  }

  /** More secrets to scrub from now on. */
  add(secrets: readonly string[]): void {
    const forms = new Set(this.forms);
    for (const secret of secrets) {
      if (!secret) continue;
      const once = JSON.stringify(secret).slice(1, -1);
      const twice = JSON.stringify(once).slice(1, -1);
      for (const form of [secret, once, twice]) forms.add(form);
    }
    // Longest first, so a form that contains another is masked whole.
    this.forms = [...forms].sort((a, b) => b.length - a.length);
  }

  /** The text with every form of every secret masked. */
  text(text: string): string {
    let out = text;
    for (const form of this.forms) {
      if (out.includes(form)) out = out.split(form).join(MASK);
    }
    return out;
  }

  /**
   * One JSON line: every string value is scrubbed before it is serialised, then
   * the serialised line again as a safety net (keys, and escapes that happen to
   * spell a secret).
   */
  line(msg: object): string {
    if (!this.forms.length) return JSON.stringify(msg);
    return this.text(
      JSON.stringify(msg, (_key, value: unknown) =>
        typeof value === 'string' ? this.text(value) : value,
      ),
    );
  }
}
