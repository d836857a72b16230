import { SyncMode } from 'faros-airbyte-cdk/lib/protocol';
import fs from 'fs';
import type { JSONSchema7 } from 'json-schema';
import path from 'path';
import { ApiRecord, FetchObject, FetchPage, ListQuery, PageRequest } from '../api/types';
import { GoKartConfig, RESOURCES_DIR } from '../config';
import type { ScanHooks, ScanStats } from '../read/scan/scanner';

/**
 * A stream as data: everything the read path, the Airbyte output and the
 * warehouse need to know about it. A new stream is a new module in src/streams/
 * exporting one of these, listed in STREAMS (src/streams/index.ts).
 */
export interface StreamDefinition {
  name: string;
  /** Read from resources/schemas/<name>.json. */
  jsonSchema(): JSONSchema7;
  /** [['id']] */
  primaryKey: string[][];
  /** ['launchDate']; undefined: full refresh only. */
  cursorField?: string[];
  syncModes: SyncMode[];
  // The catalog entry discover prints is derived from the above in airbyte/catalog.ts.
  /** How a page of the list the stream reads is requested: path, sort and filters (the client adds page and page_size). */
  query(config: GoKartConfig, request: PageRequest): ListQuery;
  /**
   * This stream's saved state, checked: throws ConfigError naming the field.
   * Called for every stream before any is read, so a bad state reads nothing.
   */
  parseState(state: unknown): Record<string, unknown>;
  /** Opens this stream's read: the scan plus the state it ends with. */
  open(ctx: StreamReadContext): StreamRead;
}

export interface StreamReadContext {
  config: GoKartConfig;
  syncMode: SyncMode;
  /** This stream's saved state (as parseState accepts it); undefined before its first sync. */
  state: unknown;
  fetchPage: FetchPage;
  /** One object by id (an offer's details). */
  fetchObject: FetchObject;
  hooks: ScanHooks;
}

export interface StreamRead {
  batches: AsyncGenerator<ApiRecord[]>;
  /** On a rate limit (429). */
  lowerConcurrency(): void;
  /** Only meaningful after `batches` completed. */
  finalState(): Record<string, unknown>;
  stats: ScanStats;
}

const schemas = new Map<string, JSONSchema7>();

/** resources/schemas/<name>.json, read once. */
export function schemaFile(name: string): JSONSchema7 {
  let schema = schemas.get(name);
  if (!schema) {
    schema = JSON.parse(
      fs.readFileSync(path.join(RESOURCES_DIR, 'schemas', `${name}.json`), 'utf8'),
    ) as JSONSchema7;
    schemas.set(name, schema);
  }
  return schema;
}
