/**
 * Singer state, the shape Meltano SDK taps use:
 * `{"bookmarks": {"offers": {"replication_key": "launchDate", "replication_key_value": "…"}}}`.
 * Translated to and from the per-stream state the read path knows (the stream
 * module still checks the cursor value itself).
 */
import { ConfigError } from '../errors';
import { SelectedStream } from './catalog';

export type Bookmark = Record<string, unknown>;
export interface SingerState {
  bookmarks: Record<string, Bookmark>;
  [key: string]: unknown;
}

const EXPECTED =
  'expected the Singer shape {"bookmarks": {"offers": {"replication_key": "launchDate", "replication_key_value": "…"}}}';

/** Checks a --state file; an Airbyte state (a list, or a message with "type") is refused. */
export function parseSingerState(input: unknown): SingerState {
  if (input === undefined || input === null) return { bookmarks: {} };
  if (Array.isArray(input) || typeof input !== 'object') {
    throw new ConfigError(
      `state: ${EXPECTED}; this looks like an Airbyte state (a list of messages): use it with bin/main read`,
    );
  }
  const state = input as Record<string, unknown>;
  if (state.bookmarks === undefined) {
    if (Object.keys(state).length === 0) return { bookmarks: {} };
    const airbyte = 'type' in state || Object.values(state).some((v) => typeof v === 'object');
    throw new ConfigError(
      `state: ${EXPECTED}` +
        (airbyte ? '; this looks like an Airbyte state: use it with bin/main read' : ''),
    );
  }
  const bookmarks = state.bookmarks;
  if (typeof bookmarks !== 'object' || bookmarks === null || Array.isArray(bookmarks)) {
    throw new ConfigError(`state: "bookmarks" must be an object; ${EXPECTED}`);
  }
  for (const [name, bookmark] of Object.entries(bookmarks)) {
    if (typeof bookmark !== 'object' || bookmark === null || Array.isArray(bookmark)) {
      throw new ConfigError(`state: bookmarks.${name} must be an object; ${EXPECTED}`);
    }
  }
  return state as SingerState;
}

/**
 * The input state readStreams takes ({"offers": {"launchDate": "…"}}): the
 * bookmark of each incremental stream; a full-table stream starts from nothing.
 */
export function readState(state: SingerState, streams: SelectedStream[]): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const { stream, method, replicationKey } of streams) {
    const bookmark = state.bookmarks[stream.name];
    if (method !== 'INCREMENTAL' || !replicationKey || !bookmark) continue;
    if (bookmark.replication_key === undefined && bookmark.replication_key_value === undefined)
      continue;
    if (bookmark.replication_key !== replicationKey) {
      throw new ConfigError(
        `state: bookmarks.${stream.name}.replication_key must be "${replicationKey}" (got ${JSON.stringify(bookmark.replication_key)})`,
      );
    }
    input[stream.name] = { [replicationKey]: bookmark.replication_key_value };
  }
  return input;
}

/** The bookmark after a complete scan: the read's new cursor, or the one it had. */
export function nextBookmark(
  selected: SelectedStream,
  previous: Bookmark | undefined,
  readState: Record<string, unknown>,
  version: number,
): Bookmark {
  const key = selected.replicationKey;
  if (selected.method === 'FULL_TABLE' || !key) return { version };
  const value = readState[key];
  if (value === undefined) return previous ?? {};
  return { replication_key: key, replication_key_value: value };
}
