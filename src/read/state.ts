/**
 * Finds one stream's saved state in what Airbyte passes with --state: the
 * per-stream list, a single STREAM message, a LEGACY message, or a legacy
 * `{"offers": {...}}` object. The stream's own module checks what is inside.
 */
export function streamStateOf(input: unknown, name: string): unknown {
  if (input === null || input === undefined) return undefined;
  for (const msg of Array.isArray(input) ? input : [input]) {
    if (typeof msg !== 'object' || msg === null) continue;
    const m = msg as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    if (m.type === 'STREAM' && m.stream?.stream_descriptor?.name === name) {
      return m.stream.stream_state;
    }
    if (m.type === 'LEGACY' && m.legacy) return m.legacy[name];
    if (m.type === undefined && name in m) return m[name];
  }
  return undefined; // nothing saved for this stream yet
}

/** What a stream starts from: its saved state, or a warning when the input held none for it. */
export interface StreamStateInput {
  state: unknown;
  /** Set when a non-empty state was given but none of it is this stream's. */
  warning?: string;
}

/**
 * Like streamStateOf, and says what was found instead when a non-empty input
 * holds nothing for the stream (other streams, a GLOBAL state, a bare number…).
 */
export function streamStateFor(input: unknown, name: string): StreamStateInput {
  const state = streamStateOf(input, name);
  const entries = Array.isArray(input) ? input : [input];
  const empty = (v: unknown) => v === undefined || v === null || isEmptyObject(v);
  if (state !== undefined || entries.every(empty)) return { state };
  const found = [...new Set(entries.filter((e) => !empty(e)).map(describeStateEntry))];
  return {
    state,
    warning: `state: no saved state for the ${name} stream (found ${found.join('; ')}); the ${name} stream is read from the start`,
  };
}

function isEmptyObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && Object.keys(v).length === 0;
}

/** One state entry in a few words, for the warning. */
function describeStateEntry(entry: unknown): string {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    return `a ${Array.isArray(entry) ? 'list' : typeof entry} (${JSON.stringify(entry)?.slice(0, 40)})`;
  }
  const m = entry as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const names = (o: unknown) =>
    typeof o === 'object' && o !== null
      ? Object.keys(o)
          .map((k) => JSON.stringify(k))
          .join(', ')
      : '';
  switch (m.type) {
    case 'STREAM':
      return `state for the ${JSON.stringify(m.stream?.stream_descriptor?.name)} stream`;
    case 'GLOBAL':
      return 'a GLOBAL state, which this source does not use';
    case 'LEGACY':
      return `a LEGACY state for ${names(m.legacy) || 'no stream'}`;
    case 'STATE':
      return 'a whole STATE message: pass its "state", in a list';
    case undefined:
      return `a legacy state for ${names(m)}`;
    default:
      return `a ${JSON.stringify(m.type)} message`;
  }
}

/** The fix for a --state file that is a read's whole output. */
export const STATE_FROM_OUTPUT =
  'pass the last STATE message\'s "state", in a list: ' +
  `jq -c 'select(.type == "STATE") | [.state]' output.jsonl | tail -n 1 > state.json`;
