import type { AirbyteLogger } from 'faros-airbyte-cdk/lib/logger';
import {
  AirbyteCatalog,
  AirbyteConfiguredCatalog,
  AirbyteConnectionStatus,
  AirbyteSpec,
  SyncMode,
} from 'faros-airbyte-cdk/lib/protocol';
import { GoKartClient, PageRequest } from './client';
import { GoKartConfig, resolveConfig, SPEC_PATH, validateConfig, warningsNote } from './config';
import { ConfigError, ConnectorError, errorText } from './errors';
import { estimate, ReadSink, streamState, streamStatus, traceError } from './output';
import { OFFERS_STREAM, OffersState, openRead, parseInputState } from './state';
import { plural } from './text';

/** `check` answers within this, whatever the server does. */
export const CHECK_DEADLINE_MS = 30_000;

export interface CheckResult {
  status: AirbyteConnectionStatus;
  message: string;
}

/**
 * The GoKart offers source: spec, check, discover and read. It plays the part
 * of the CDK's AirbyteSourceBase, whose read adds Faros-only state and records;
 * this one speaks plain Airbyte protocol.
 */
export class GoKartSource {
  /** The CDK logger is for the CDK's stream base (discover); loaded with it, on demand. */
  constructor(private readonly logger?: AirbyteLogger) {}

  async spec(): Promise<AirbyteSpec> {
    // Loaded on demand, like the stream: only `spec` needs it.
    const { SpecLoader } = await import('faros-airbyte-cdk/lib/spec-loader');
    return SpecLoader.loadSpec(SPEC_PATH);
  }

  /** Validates the config, then makes one real request and explains any failure; a success names the config's warnings. */
  async check(rawConfig: unknown, warnings: readonly string[] = []): Promise<CheckResult> {
    let config: GoKartConfig;
    try {
      config = resolveConfig(validateConfig(rawConfig));
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
    try {
      const page = await client.fetchPage({ page: 0 }, deadline);
      return {
        status: AirbyteConnectionStatus.SUCCEEDED,
        message: `Connected to ${config.baseUrl}: ${plural(page.totalCount, 'offer')} visible${warningsNote(warnings)}`,
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
    const config = resolveConfig(validateConfig(rawConfig));
    const { OffersStream } = await import('./stream');
    const logger =
      this.logger ?? new (await import('faros-airbyte-cdk/lib/logger')).AirbyteLogger();
    return { streams: [new OffersStream(logger, config).asAirbyteStream()] };
  }

  /**
   * Reads every configured stream into the sink. Returns false when the read
   * failed or `cancel` was aborted (a TRACE ERROR was written); throws
   * ConfigError before anything is read when config, catalog or state is wrong.
   */
  async read(
    rawConfig: unknown,
    catalog: unknown,
    rawState: unknown,
    sink: ReadSink,
    cancel?: AbortSignal,
  ): Promise<boolean> {
    const config = resolveConfig(validateConfig(rawConfig));
    const configured = configuredStreams(catalog);
    const state = parseInputState(rawState);
    for (const { syncMode } of configured) {
      const ok = await this.readOffers(config, syncMode, state, sink, cancel);
      if (!ok) return false;
    }
    return true;
  }

  private async readOffers(
    config: GoKartConfig,
    syncMode: SyncMode,
    state: OffersState,
    sink: ReadSink,
    cancel?: AbortSignal,
  ): Promise<boolean> {
    const name = OFFERS_STREAM;
    await sink.message(streamStatus(name, 'STARTED'));
    let running = false;
    const markRunning = async () => {
      if (!running) await sink.message(streamStatus(name, 'RUNNING'));
      running = true;
    };
    let lowerConcurrency = () => {};
    const client = new GoKartClient(config, (notice) => {
      const where = notice.page >= 0 ? `page ${notice.page}` : 'a request';
      sink.log(
        'WARN',
        `Retrying ${where} in ${(notice.delayMs / 1000).toFixed(1)}s (attempt ${notice.attempt + 1}): ${notice.reason}`,
      );
      if (notice.rateLimited) {
        lowerConcurrency();
        running = true;
        void sink.message(streamStatus(name, 'RUNNING', { quotaReset: notice.quotaReset }));
      }
    });
    // A cancel aborts the requests in flight and any retry wait, so the scan ends at once.
    const fetchPage = (r: PageRequest, s: AbortSignal) =>
      client.fetchPage(r, cancel ? AbortSignal.any([s, cancel]) : s);
    const read = openRead(config, syncMode, state, fetchPage, {
      estimate: (rows) => void sink.message(estimate(name, rows)),
      log: (level, message) => sink.log(level === 'warn' ? 'WARN' : 'INFO', message),
    });
    lowerConcurrency = () => read.scanner.lowerConcurrency();
    let count = 0;
    const started = Date.now();
    try {
      for await (const batch of read.batches) {
        if (cancel?.aborted) break;
        await markRunning();
        await sink.records(name, batch);
        count += batch.length;
      }
      cancel?.throwIfAborted();
      await markRunning();
      await sink.message(streamState(name, { ...read.finalState() }, count));
      await sink.message(streamStatus(name, 'COMPLETE'));
      const { requests, passes, earlyStop } = read.scanner.stats;
      sink.log(
        'INFO',
        `Read ${plural(count, 'offer')} (${syncMode}) with ${plural(requests, 'request')} in ${Date.now() - started} ms` +
          (passes > 1 ? `, ${passes} passes` : '') +
          (earlyStop ? ', stopped early at older offers' : ''),
      );
      return true;
    } catch (err) {
      // No state past the failure: the saved cursor stays where it was.
      await sink.message(streamStatus(name, 'INCOMPLETE'));
      await sink.message(
        traceError(
          cancel?.aborted
            ? {
                message: `Reading the ${name} stream was cancelled (${String(cancel.reason)}) after ${plural(count, 'record')}; no state was emitted, so the next sync starts from the previous state`,
                failure_type: 'transient_error',
                stream_descriptor: { name },
              }
            : {
                message: `Reading the ${name} stream failed after ${plural(count, 'record')}: ${errorText(err)}`,
                internal_message:
                  err instanceof Error && !(err instanceof ConnectorError) ? err.stack : undefined,
                failure_type: err instanceof ConnectorError ? err.failureType : 'system_error',
                stream_descriptor: { name },
              },
        ),
      );
      return false;
    } finally {
      client.close();
    }
  }
}

/** The configured streams this source knows; any other stream name is a config error. */
function configuredStreams(catalog: unknown): { syncMode: SyncMode }[] {
  const streams = (catalog as AirbyteConfiguredCatalog | null)?.streams;
  if (!Array.isArray(streams))
    throw new ConfigError('catalog: expected an object with a "streams" list');
  return streams.map((s, i) => {
    const name = s?.stream?.name;
    if (name === OFFERS_STREAM && i > streams.findIndex((t) => t?.stream?.name === name)) {
      throw new ConfigError(`catalog: streams[${i}] repeats the "${name}" stream`);
    }
    if (name !== OFFERS_STREAM) {
      throw new ConfigError(
        `catalog: streams[${i}] names unknown stream ${JSON.stringify(name)}; this source has only "${OFFERS_STREAM}"`,
      );
    }
    if (s.sync_mode !== SyncMode.FULL_REFRESH && s.sync_mode !== SyncMode.INCREMENTAL) {
      throw new ConfigError(
        `catalog: streams[${i}].sync_mode must be full_refresh or incremental (got ${JSON.stringify(s.sync_mode)})`,
      );
    }
    return { syncMode: s.sync_mode };
  });
}
