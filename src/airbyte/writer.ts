import { AirbyteLog, AirbyteLogLevel, AirbyteMessageType } from 'faros-airbyte-cdk/lib/protocol';
import { Writable } from 'stream';
import { ApiRecord } from '../api/types';
import { ReadEvent, retryMessage } from '../read/events';
import { plural, Scrubber, singular } from '../text';
import { estimate, LogLevel, streamState, streamStatus, traceError } from './messages';

/**
 * Airbyte messages on stdout, one JSON line each, with backpressure: every
 * write is awaited before the next. Records are written a page at a time as one
 * string; every other message is scrubbed of secrets (errors and logs may quote
 * what a server or library said).
 */
export class AirbyteWriter {
  constructor(
    private readonly out: Writable = process.stdout,
    readonly scrubber: Scrubber = new Scrubber(),
  ) {}

  /**
   * Writes a read's events as Airbyte messages; false when a stream failed (its
   * TRACE ERROR was written). A failed write ends the read.
   */
  async consume(events: AsyncIterable<ReadEvent>): Promise<boolean> {
    let ok = true;
    let running = false;
    const markRunning = async (stream: string) => {
      if (!running) await this.message(streamStatus(stream, 'RUNNING'));
      running = true;
    };
    for await (const event of events) {
      switch (event.type) {
        case 'started':
          running = false;
          await this.message(streamStatus(event.stream, 'STARTED'));
          break;
        case 'estimate':
          await this.message(estimate(event.stream, event.rows));
          break;
        case 'records':
          await markRunning(event.stream);
          await this.records(event.stream, event.records);
          break;
        case 'rate_limited':
          running = true;
          await this.message(
            streamStatus(event.stream, 'RUNNING', { quotaReset: event.quotaReset }),
          );
          break;
        case 'retry':
          await this.log('WARN', retryMessage(event.notice));
          break;
        case 'log':
          await this.log(event.level, event.message);
          break;
        case 'checkpoint':
          await markRunning(event.stream);
          await this.message(streamState(event.stream, event.state, event.recordCount));
          break;
        case 'completed': {
          const { requests, passes, earlyStop } = event.stats;
          await this.message(streamStatus(event.stream, 'COMPLETE'));
          await this.log(
            'INFO',
            `Read ${plural(event.recordCount, singular(event.stream))} (${event.syncMode}) with ${plural(requests, 'request')} in ${event.ms} ms` +
              (passes > 1 ? `, ${passes} passes` : '') +
              (earlyStop ? ', stopped early at older offers' : ''),
          );
          break;
        }
        case 'failed':
          ok = false;
          await this.message(streamStatus(event.stream, 'INCOMPLETE'));
          await this.message(
            traceError({
              message: event.message,
              internal_message: event.internalMessage,
              failure_type: event.failureType,
              stream_descriptor: { name: event.stream },
            }),
          );
          break;
      }
    }
    return ok;
  }

  /** Records of one page, in order. */
  async records(stream: string, records: ApiRecord[]): Promise<void> {
    const head = `{"type":"RECORD","record":{"stream":${JSON.stringify(stream)},"emitted_at":${Date.now()},"data":`;
    let chunk = '';
    for (const record of records) chunk += head + JSON.stringify(record) + '}}\n';
    await this.write(chunk);
  }

  async message(msg: object): Promise<void> {
    await this.write(this.scrubber.line(msg) + '\n');
  }

  async log(level: LogLevel, message: string): Promise<void> {
    // The CDK's log message shape is plain Airbyte protocol.
    const msg: { type: AirbyteMessageType } = AirbyteLog.make(AirbyteLogLevel[level], message);
    await this.message(msg);
  }

  private write(chunk: string): Promise<void> {
    return writeAwaited(this.out, chunk);
  }
}

/** Writes a chunk; resolves once the stream took it (at once, or on 'drain'). Shared by every output. */
export function writeAwaited(out: Writable, chunk: string): Promise<void> {
  if (out.write(chunk)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      out.off('drain', done);
      out.off('error', done);
      out.off('close', done);
      if (err) reject(err);
      else resolve();
    };
    out.once('drain', done);
    out.once('error', done);
    out.once('close', done);
  });
}
