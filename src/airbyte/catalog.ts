import {
  AirbyteCatalog,
  AirbyteConfiguredCatalog,
  AirbyteStream,
  DestinationSyncMode,
  SyncMode,
} from 'faros-airbyte-cdk/lib/protocol';
import { ConfigError } from '../errors';
import { ConfiguredStream } from '../read/events';
import { StreamDefinition } from '../streams/definition';
import { STREAMS, streamByName } from '../streams';

/** A stream's catalog entry, derived from its definition (the CDK's type lacks is_resumable). */
function airbyteStream(stream: StreamDefinition): AirbyteStream & { is_resumable: boolean } {
  const incremental = stream.cursorField !== undefined;
  return {
    name: stream.name,
    supported_sync_modes: stream.syncModes,
    ...(incremental
      ? { source_defined_cursor: true, default_cursor_field: stream.cursorField }
      : {}),
    source_defined_primary_key: stream.primaryKey,
    is_resumable: incremental,
    json_schema: stream.jsonSchema() as Record<string, unknown>,
  };
}

/** What discover prints: every stream this source has. */
export function catalog(): AirbyteCatalog {
  return { streams: STREAMS.map(airbyteStream) };
}

/** discover's catalog as a configured one, each stream in its default mode (as defaultCatalog): the hint's `jq`. */
const TO_CONFIGURED = (streams: string) =>
  `jq '{streams: [${streams}[] | (.supported_sync_modes | index("incremental")) as $inc | ` +
  `{stream: ., sync_mode: (if $inc then "incremental" else "full_refresh" end), ` +
  `destination_sync_mode: (if $inc then "append_dedup" else "overwrite" end)}]}'`;

/** A configured catalog of every stream in its default sync mode: incremental where supported. */
export function defaultCatalog(): AirbyteConfiguredCatalog {
  return {
    streams: STREAMS.map((stream) => {
      const incremental = stream.syncModes.includes(SyncMode.INCREMENTAL);
      return {
        stream: airbyteStream(stream),
        sync_mode: incremental ? SyncMode.INCREMENTAL : SyncMode.FULL_REFRESH,
        destination_sync_mode: incremental
          ? DestinationSyncMode.APPEND_DEDUP
          : DestinationSyncMode.OVERWRITE,
      };
    }),
  };
}

/**
 * The configured streams, in catalog order, and warnings (an empty list); an
 * unknown or repeated stream, or discover's output, is a config error.
 */
export function configuredStreams(configured: unknown): {
  streams: ConfiguredStream[];
  warnings: string[];
} {
  const given = configured as (AirbyteConfiguredCatalog & { type?: unknown }) | null;
  if (given?.type === 'CATALOG') {
    throw new ConfigError(
      "catalog: this is discover's output (a CATALOG message), not a configured catalog; " +
        `make one with: ${TO_CONFIGURED('.catalog.streams')} discover.json > catalog.json`,
    );
  }
  const streams = given?.streams;
  if (!Array.isArray(streams))
    throw new ConfigError('catalog: expected an object with a "streams" list');
  const warnings = streams.length
    ? []
    : ['catalog: the "streams" list is empty, so nothing will be synced'];
  const configuredOnes = streams.map((s, i) => {
    if (s?.stream === undefined && (s as { name?: unknown })?.name !== undefined) {
      throw new ConfigError(
        `catalog: streams[${i}] has "name" but no "stream": this is discover's catalog, not a configured one; ` +
          `make one with: ${TO_CONFIGURED('.streams')} discovered.json > catalog.json`,
      );
    }
    const name = s?.stream?.name;
    const stream = streamByName(name);
    if (!stream) {
      const known = STREAMS.map((t) => `"${t.name}"`).join(', ');
      throw new ConfigError(
        `catalog: streams[${i}] names unknown stream ${JSON.stringify(name)}; this source has only ${known}`,
      );
    }
    if (i > streams.findIndex((t) => t?.stream?.name === name)) {
      throw new ConfigError(`catalog: streams[${i}] repeats the "${name}" stream`);
    }
    if (!stream.syncModes.includes(s.sync_mode)) {
      throw new ConfigError(
        `catalog: streams[${i}].sync_mode must be ${stream.syncModes.join(' or ')} (got ${JSON.stringify(s.sync_mode)})`,
      );
    }
    return { stream, syncMode: s.sync_mode };
  });
  return { streams: configuredOnes, warnings };
}
