/**
 * The Singer catalog: derived from the stream definitions (src/streams/) like
 * the Airbyte one, and the user's selection read back from it.
 */
import { SyncMode } from 'faros-airbyte-cdk/lib/protocol';
import type { JSONSchema7 } from 'json-schema';
import { ConfigError } from '../errors';
import { StreamDefinition } from '../streams/definition';
import { STREAMS, streamByName } from '../streams';

export type ReplicationMethod = 'INCREMENTAL' | 'FULL_TABLE';

export interface MetadataEntry {
  breadcrumb: string[];
  metadata: Record<string, unknown>;
}

export interface SingerCatalogEntry {
  tap_stream_id: string;
  stream: string;
  schema: JSONSchema7;
  key_properties: string[];
  replication_key?: string;
  replication_method?: ReplicationMethod;
  metadata: MetadataEntry[];
}

/** A stream the sync reads, as the catalog configured it. */
export interface SelectedStream {
  stream: StreamDefinition;
  method: ReplicationMethod;
  /** The replication key when incremental. */
  replicationKey?: string;
  /** The schema with deselected properties removed. */
  schema: JSONSchema7;
  /** Properties the records lose. */
  dropped: string[];
}

const keyProperties = (s: StreamDefinition) => s.primaryKey.map((path) => path[0]);
const replicationKey = (s: StreamDefinition) =>
  s.syncModes.includes(SyncMode.INCREMENTAL) ? s.cursorField?.[0] : undefined;
/** The key and the replication key: always synced. */
const automatic = (s: StreamDefinition) =>
  new Set([...keyProperties(s), ...(replicationKey(s) ? [replicationKey(s) as string] : [])]);
/** FULL_TABLE when the stream cannot be read incrementally. */
const forcedMethod = (s: StreamDefinition): ReplicationMethod | undefined =>
  replicationKey(s) ? undefined : 'FULL_TABLE';

function catalogEntry(s: StreamDefinition): SingerCatalogEntry {
  const schema = s.jsonSchema();
  const key = replicationKey(s);
  const forced = forcedMethod(s);
  const auto = automatic(s);
  return {
    tap_stream_id: s.name,
    stream: s.name,
    schema,
    key_properties: keyProperties(s),
    ...(key ? { replication_key: key, replication_method: 'INCREMENTAL' as const } : {}),
    metadata: [
      {
        breadcrumb: [],
        metadata: {
          inclusion: 'available',
          'table-key-properties': keyProperties(s),
          'valid-replication-keys': key ? [key] : [],
          ...(forced ? { 'forced-replication-method': forced } : {}),
        },
      },
      ...Object.keys(schema.properties ?? {}).map((name) => ({
        breadcrumb: ['properties', name],
        metadata: { inclusion: auto.has(name) ? 'automatic' : 'available' },
      })),
    ],
  };
}

/** What `--discover` prints. */
export function singerCatalog(): { streams: SingerCatalogEntry[] } {
  return { streams: STREAMS.map(catalogEntry) };
}

/** Without a catalog: every stream, incremental where it can be, every property. */
export function allStreams(): SelectedStream[] {
  return STREAMS.map((stream) => {
    const key = replicationKey(stream);
    return {
      stream,
      method: key ? 'INCREMENTAL' : 'FULL_TABLE',
      replicationKey: key,
      schema: stream.jsonSchema(),
      dropped: [],
    };
  });
}

/**
 * The streams a catalog (--catalog or the legacy --properties) selects, in its
 * order: `selected: true` on the stream's empty breadcrumb (or, legacy, on its
 * schema), with `replication-method` / `replication-key` from there. Properties
 * with `selected: false` are dropped unless automatic (a warning says so).
 */
export function selectedStreams(input: unknown, warn: (message: string) => void): SelectedStream[] {
  const entries = (input as { streams?: unknown } | null)?.streams;
  if (!Array.isArray(entries)) {
    throw new ConfigError('catalog: expected an object with a "streams" list');
  }
  const seen = new Set<string>();
  const selected: SelectedStream[] = [];
  for (const [i, raw] of entries.entries()) {
    const entry = (raw ?? {}) as Partial<SingerCatalogEntry> & { schema?: { selected?: unknown } };
    const id = entry.tap_stream_id ?? entry.stream;
    const stream = streamByName(id);
    if (!stream) {
      const known = STREAMS.map((t) => `"${t.name}"`).join(', ');
      throw new ConfigError(
        `catalog: streams[${i}].tap_stream_id names unknown stream ${JSON.stringify(id)}; this tap has only ${known}`,
      );
    }
    if (seen.has(stream.name)) {
      throw new ConfigError(`catalog: streams[${i}] repeats the "${stream.name}" stream`);
    }
    seen.add(stream.name);
    const metadata = Array.isArray(entry.metadata) ? entry.metadata : [];
    const at = (breadcrumb: string[]) =>
      metadata.find((m) => JSON.stringify(m?.breadcrumb ?? null) === JSON.stringify(breadcrumb))
        ?.metadata ?? {};
    const top = at([]);
    if (top.selected !== true && entry.schema?.selected !== true) continue;

    const where = `catalog: streams[${i}] ("${stream.name}")`;
    const key = replicationKey(stream);
    const method = top['replication-method'] ?? forcedMethod(stream) ?? 'INCREMENTAL';
    if (method !== 'INCREMENTAL' && method !== 'FULL_TABLE') {
      throw new ConfigError(
        `${where}: replication-method must be INCREMENTAL or FULL_TABLE (got ${JSON.stringify(method)})`,
      );
    }
    if (method === 'INCREMENTAL' && !key) {
      throw new ConfigError(
        `${where}: replication-method INCREMENTAL is not supported, only FULL_TABLE`,
      );
    }
    const wantedKey = top['replication-key'];
    if (method === 'INCREMENTAL' && wantedKey !== undefined && wantedKey !== key) {
      throw new ConfigError(
        `${where}: replication-key must be "${key}" (got ${JSON.stringify(wantedKey)})`,
      );
    }

    const auto = automatic(stream);
    const full = stream.jsonSchema();
    const dropped: string[] = [];
    for (const name of Object.keys(full.properties ?? {})) {
      if (at(['properties', name]).selected !== false) continue;
      if (auto.has(name))
        warn(`${stream.name}.${name} is automatic (key or replication key): it is kept`);
      else dropped.push(name);
    }
    const properties = Object.fromEntries(
      Object.entries(full.properties ?? {}).filter(([name]) => !dropped.includes(name)),
    );
    selected.push({
      stream,
      method,
      replicationKey: method === 'INCREMENTAL' ? key : undefined,
      schema: { ...full, properties },
      dropped,
    });
  }
  return selected;
}
