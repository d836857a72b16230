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

/** `1 offer`, `2 offers`: a count with its noun. */
export function plural(count: number, noun: string, digits = String(count)): string {
  return `${digits} ${noun}${count === 1 ? '' : 's'}`;
}
