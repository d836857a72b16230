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
