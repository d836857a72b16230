import {
  AirbyteCatalog,
  AirbyteConnectionStatus,
  AirbyteSpec,
} from 'faros-airbyte-cdk/lib/protocol';
import { GoKartClient } from '../api/client';
import {
  GoKartConfig,
  resolveConfig,
  SPEC_PATH,
  Tuning,
  validateConfig,
  warningsNote,
} from '../config';
import { plural, singular } from '../text';
import { errorText } from '../errors';
import { readStreams } from '../read/read';
import { STREAMS } from '../streams';
import { catalog, configuredStreams } from './catalog';
import { AirbyteWriter } from './writer';

/** `check` answers within this, whatever the server does. */
const CHECK_DEADLINE_MS = 30_000;

interface CheckResult {
  status: AirbyteConnectionStatus;
  message: string;
}

/**
 * The GoKart source: spec, check, discover and read. It plays the part of the
 * CDK's AirbyteSourceBase, whose read adds Faros-only state and records; this
 * one speaks plain Airbyte protocol: readStreams piped into the AirbyteWriter.
 */
export class GoKartSource {
  constructor(private readonly tuning: Tuning = {}) {}

  async spec(): Promise<AirbyteSpec> {
    // Loaded on demand: only `spec` needs it.
    const { SpecLoader } = await import('faros-airbyte-cdk/lib/spec-loader');
    return SpecLoader.loadSpec(SPEC_PATH);
  }

  /** Validates the config, then makes one real request (a page of the first stream) and explains any failure. */
  async check(rawConfig: unknown, warnings: readonly string[] = []): Promise<CheckResult> {
    let config: GoKartConfig;
    try {
      config = resolveConfig(validateConfig(rawConfig), this.tuning);
    } catch (err) {
      return { status: AirbyteConnectionStatus.FAILED, message: errorText(err) };
    }
    // One small page; few retries, so a wrong host is reported quickly.
    let lastFailure: string | undefined;
    const client = new GoKartClient(
      { ...config, pageSize: 1, maxRetries: Math.min(config.maxRetries, 2) },
      (notice) => (lastFailure = notice.reason),
    );
    const deadline = AbortSignal.timeout(CHECK_DEADLINE_MS);
    const [stream] = STREAMS;
    try {
      const page = await client.fetchPage(stream.query(config, { page: 0 }), deadline);
      return {
        status: AirbyteConnectionStatus.SUCCEEDED,
        message: `Connected to ${config.baseUrl}: ${plural(page.totalCount, singular(stream.name))} visible${warningsNote(warnings)}`,
      };
    } catch (err) {
      const message = deadline.aborted
        ? `No answer from ${config.baseUrl} within ${CHECK_DEADLINE_MS / 1000} s` +
          (lastFailure ? ` (the last attempt failed: ${lastFailure})` : '')
        : errorText(err);
      return { status: AirbyteConnectionStatus.FAILED, message };
    } finally {
      client.close();
    }
  }

  async discover(rawConfig: unknown): Promise<AirbyteCatalog> {
    resolveConfig(validateConfig(rawConfig), this.tuning);
    return catalog();
  }

  /**
   * Reads every configured stream into the writer. Returns false when the read
   * failed or `cancel` was aborted (a TRACE ERROR was written); throws
   * ConfigError before anything is read when config, catalog or state is wrong.
   */
  async read(
    rawConfig: unknown,
    configuredCatalog: unknown,
    rawState: unknown,
    out: AirbyteWriter,
    cancel?: AbortSignal,
  ): Promise<boolean> {
    const config = resolveConfig(validateConfig(rawConfig), this.tuning);
    const { streams, warnings } = configuredStreams(configuredCatalog);
    for (const warning of warnings) await out.log('WARN', warning);
    return out.consume(readStreams(config, streams, rawState, { signal: cancel }));
  }
}
