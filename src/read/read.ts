import { SyncMode } from 'faros-airbyte-cdk/lib/protocol';
import { GoKartClient } from '../api/client';
import { ApiRecord, FetchObject, FetchPage, RetryNotice } from '../api/types';
import { GoKartConfig } from '../config';
import { plural } from '../text';
import { ConnectorError, errorText } from '../errors';
import { StreamRead } from '../streams/definition';
import { ConfiguredStream, ReadEvent } from './events';
import { ScanHooks } from './scan/scanner';
import { streamStateFor } from './state';

/**
 * THE read path, for every output: reads the configured streams one after the
 * other and tells what happens as events. The consumer pulls and finishes its
 * own writes before it pulls again (that is the backpressure); if it throws or
 * stops, the requests in flight are cancelled and the client is closed.
 * A bad state throws ConfigError before anything is read; a stream that fails
 * ends with a `failed` event, and the streams after it are not read.
 */
export async function* readStreams(
  config: GoKartConfig,
  streams: ConfiguredStream[],
  inputState: unknown,
  options: { signal?: AbortSignal } = {},
): AsyncGenerator<ReadEvent> {
  const inputs = streams.map(({ stream }) => streamStateFor(inputState, stream.name));
  const states = streams.map(({ stream }, i) => stream.parseState(inputs[i].state));
  let onRetry = (_notice: RetryNotice) => {};
  const client = new GoKartClient(config, (notice) => onRetry(notice));
  try {
    for (const [i, { stream, syncMode }] of streams.entries()) {
      const name = stream.name;
      yield { type: 'started', stream: name };
      // A full refresh reads from the start anyway: another stream's state is no news to it.
      const stateWarning = syncMode === SyncMode.INCREMENTAL ? inputs[i].warning : undefined;
      if (stateWarning) yield { type: 'log', level: 'WARN', message: stateWarning, stream: name };
      const notices = new Notices();
      const hooks: ScanHooks = {
        estimate: (rows) => notices.push({ type: 'estimate', stream: name, rows }),
        log: (level, message) =>
          notices.push({
            type: 'log',
            level: level === 'warn' ? 'WARN' : 'INFO',
            message,
            stream: name,
          }),
      };
      // Requests end with the pass (the scan's signal), when the consumer stops, or on a cancel.
      const stop = new AbortController();
      const until = (signal: AbortSignal) =>
        AbortSignal.any([signal, stop.signal, ...(options.signal ? [options.signal] : [])]);
      const fetchPage: FetchPage = (request, signal) =>
        client.fetchPage(stream.query(config, request), until(signal));
      const fetchObject: FetchObject = (query, signal) => client.fetchObject(query, until(signal));
      const read = stream.open({
        config,
        syncMode,
        state: states[i],
        fetchPage,
        fetchObject,
        hooks,
      });
      onRetry = (notice) => {
        notices.push({ type: 'retry', stream: name, notice });
        if (notice.rateLimited) {
          read.lowerConcurrency();
          notices.push({ type: 'rate_limited', stream: name, quotaReset: notice.quotaReset });
        }
      };
      let count = 0;
      const started = Date.now();
      try {
        for await (const event of mergeNotices(name, read, notices, stop)) {
          if (event.type === 'records') {
            options.signal?.throwIfAborted();
            count += event.records.length;
          }
          yield event;
        }
        options.signal?.throwIfAborted();
      } catch (err) {
        // No state past the failure: the saved cursor stays where it was.
        yield* notices.take(); // the retries that led to it, say
        yield failed(name, count, err, options.signal);
        return;
      }
      yield {
        type: 'checkpoint',
        stream: name,
        state: { ...read.finalState() },
        recordCount: count,
      };
      const ms = Date.now() - started;
      yield {
        type: 'completed',
        stream: name,
        syncMode,
        recordCount: count,
        stats: read.stats,
        ms,
      };
    }
  } finally {
    client.close();
  }
}

function failed(name: string, count: number, err: unknown, cancel?: AbortSignal): ReadEvent {
  if (cancel?.aborted) {
    return {
      type: 'failed',
      stream: name,
      failureType: 'transient_error',
      message: `Reading the ${name} stream was cancelled (${String(cancel.reason)}) after ${plural(count, 'record')}; no state was emitted, so the next sync starts from the previous state`,
      recordCount: count,
    };
  }
  return {
    type: 'failed',
    stream: name,
    failureType: err instanceof ConnectorError ? err.failureType : 'system_error',
    message: `Reading the ${name} stream failed after ${plural(count, 'record')}: ${errorText(err)}`,
    internalMessage:
      err instanceof Error && !(err instanceof ConnectorError) ? err.stack : undefined,
    recordCount: count,
  };
}

/** Events that arrive while a page is awaited (retries, rate limits, estimates, logs). */
class Notices {
  private readonly queue: ReadEvent[] = [];
  private wake?: () => void;

  push(event: ReadEvent): void {
    this.queue.push(event);
    this.wake?.();
    this.wake = undefined;
  }

  take(): ReadEvent[] {
    return this.queue.splice(0);
  }

  /**
   * Resolves when a notice is waiting. A new promise each time, and only the
   * latest is kept: one shared across pages would keep every race against it,
   * and with them every page already written, until the next notice.
   */
  arrived(): Promise<void> {
    if (this.queue.length) return Promise.resolve();
    return new Promise<void>((resolve) => (this.wake = resolve));
  }
}

/**
 * The stream's batches as `records` events, with the notices delivered as soon
 * as they arrive rather than after the page being awaited (RATE_LIMITED while
 * waiting out a 429), and always before the records that follow them.
 */
async function* mergeNotices(
  name: string,
  read: StreamRead,
  notices: Notices,
  stop: AbortController,
): AsyncGenerator<ReadEvent> {
  let next: Promise<IteratorResult<ApiRecord[]>> = read.batches.next();
  try {
    for (;;) {
      const result = await Promise.race([next, notices.arrived()]);
      yield* notices.take();
      if (!result) continue; // a notice came first: the page is still awaited
      if (result.done) return;
      yield { type: 'records', stream: name, records: result.value };
      next = read.batches.next();
    }
  } finally {
    // A consumer that stopped mid-page: cancel what is in flight, then let the scan end.
    stop.abort();
    next.catch(() => {});
    await read.batches.return(undefined).catch(() => {});
  }
}
