import {
  AirbyteCatalog,
  AirbyteConfiguredCatalog,
  AirbyteStream,
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

/** The configured streams, in catalog order; an unknown or repeated stream is a config error. */
export function configuredStreams(configured: unknown): ConfiguredStream[] {
  const streams = (configured as AirbyteConfiguredCatalog | null)?.streams;
  if (!Array.isArray(streams))
    throw new ConfigError('catalog: expected an object with a "streams" list');
  return streams.map((s, i) => {
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
}
