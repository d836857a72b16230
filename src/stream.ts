import { AirbyteLogger } from 'faros-airbyte-cdk/lib/logger';
import { AirbyteStream, SyncMode } from 'faros-airbyte-cdk/lib/protocol';
import { AirbyteStreamBase } from 'faros-airbyte-cdk/lib/sources/streams/stream-base';
import fs from 'fs';
import path from 'path';
import { GoKartConfig, RESOURCES_DIR } from './config';
import { GoKartClient, Offer } from './client';
import { OFFERS_STREAM, OFFERS_STREAM_ENTRY, openRead, parseInputState } from './state';

let schema: Record<string, unknown> | undefined;

/**
 * The offers stream as the CDK describes streams. The source loads this module
 * only for discover: the CDK's stream base pulls in faros-js-client (~200 ms and
 * ~35 MB at start-up) that reading does not need.
 */
export class OffersStream extends AirbyteStreamBase {
  constructor(
    logger: AirbyteLogger,
    private readonly config: GoKartConfig,
  ) {
    super(logger);
  }

  override get name(): string {
    return OFFERS_STREAM;
  }

  get primaryKey(): string {
    return OFFERS_STREAM_ENTRY.source_defined_primary_key[0][0];
  }

  override get cursorField(): string {
    return OFFERS_STREAM_ENTRY.default_cursor_field[0];
  }

  override get sourceDefinedCursor(): boolean {
    return true;
  }

  getJsonSchema(): Record<string, unknown> {
    schema ??= JSON.parse(
      fs.readFileSync(path.join(RESOURCES_DIR, 'schemas', 'offers.json'), 'utf8'),
    );
    return schema as Record<string, unknown>;
  }

  /** The CDK's version adds Faros-only columns (__faros_data, __faros_heartbeat) to the schema. */
  override asAirbyteStream(): AirbyteStream {
    return { ...OFFERS_STREAM_ENTRY, json_schema: this.getJsonSchema() };
  }

  /** The CDK's record-at-a-time interface; GoKartSource reads page batches through openRead. */
  async *readRecords(
    syncMode: SyncMode,
    _cursorField?: string[],
    _slice?: Record<string, unknown>,
    streamState?: Record<string, unknown>,
  ): AsyncGenerator<Offer> {
    const client = new GoKartClient(this.config);
    try {
      const state = parseInputState({ [OFFERS_STREAM]: streamState });
      const read = openRead(this.config, syncMode, state, (r, s) => client.fetchPage(r, s), {});
      for await (const batch of read.batches) yield* batch;
    } finally {
      client.close();
    }
  }
}
