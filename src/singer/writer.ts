import { Writable } from 'stream';
import { ApiRecord } from '../api/types';
import { writeAwaited } from '../airbyte/writer';
import { ReadEvent, retryMessage } from '../read/events';
import { Scrubber } from '../text';
import { SelectedStream } from './catalog';
import { nextBookmark, SingerState } from './state';

/**
 * Singer messages on stdout, one JSON line each, from the same ReadEvents the
 * Airbyte writer consumes: SCHEMA when a stream starts, RECORDs a page at a
 * time, STATE on the read's checkpoint (after a scan that proved complete). A
 * full-table stream's records carry a version, activated after the last one
 * (and before the first on a stream's first sync, so the table exists at once).
 * Logs go to stderr; everything but records is scrubbed of secrets.
 */
export class SingerWriter {
  private readonly state: SingerState;
  /** Epoch ms, the Meltano SDK's convention for a table version. */
  private readonly version = Date.now();

  constructor(
    private readonly streams: SelectedStream[],
    inputState: SingerState,
    private readonly out: Writable = process.stdout,
    private readonly err: Writable = process.stderr,
    readonly scrubber: Scrubber = new Scrubber(),
  ) {
    this.state = structuredClone(inputState);
  }

  /** Writes a read's events; the failure's one-line reason, or undefined when every stream completed. */
  async consume(events: AsyncIterable<ReadEvent>): Promise<string | undefined> {
    for await (const event of events) {
      const selected = this.streams.find((s) => s.stream.name === event.stream);
      switch (event.type) {
        case 'started':
          if (!selected) break;
          await this.message({
            type: 'SCHEMA',
            stream: event.stream,
            schema: selected.schema,
            key_properties: selected.stream.primaryKey.map((p) => p[0]),
            bookmark_properties: selected.replicationKey ? [selected.replicationKey] : [],
          });
          if (this.fullTable(selected) && this.state.bookmarks[event.stream]?.version === undefined)
            await this.activateVersion(event.stream);
          break;
        case 'records':
          if (selected) await this.records(selected, event.records);
          break;
        case 'retry':
          await this.log('WARN', retryMessage(event.notice));
          break;
        case 'rate_limited':
          await this.log('INFO', `${event.stream}: rate limited, waiting`);
          break;
        case 'log':
          await this.log(event.level, event.message);
          break;
        case 'checkpoint':
          if (!selected) break;
          if (this.fullTable(selected)) await this.activateVersion(event.stream);
          this.state.bookmarks[event.stream] = nextBookmark(
            selected,
            this.state.bookmarks[event.stream],
            event.state,
            this.version,
          );
          await this.message({ type: 'STATE', value: this.state });
          break;
        case 'completed':
          await this.log(
            'INFO',
            `Read ${event.recordCount} ${event.stream} (${selected?.method}) with ${event.stats.requests} requests in ${event.ms} ms`,
          );
          break;
        case 'failed':
          return event.message;
        case 'estimate':
          break;
      }
    }
    return undefined;
  }

  async log(level: string, message: string): Promise<void> {
    await writeAwaited(this.err, `${level} ${this.scrubber.text(oneLine(message))}\n`);
  }

  private fullTable(selected: SelectedStream): boolean {
    return selected.method === 'FULL_TABLE';
  }

  private activateVersion(stream: string): Promise<void> {
    return this.message({ type: 'ACTIVATE_VERSION', stream, version: this.version });
  }

  /** One page's records, minus deselected properties, as one write. */
  private async records(selected: SelectedStream, records: ApiRecord[]): Promise<void> {
    const tail =
      (this.fullTable(selected) ? `,"version":${this.version}` : '') +
      `,"time_extracted":${JSON.stringify(new Date().toISOString())}}\n`;
    const head = `{"type":"RECORD","stream":${JSON.stringify(selected.stream.name)},"record":`;
    let chunk = '';
    for (const record of records)
      chunk += head + JSON.stringify(drop(record, selected.dropped)) + tail;
    await writeAwaited(this.out, chunk);
  }

  private message(msg: object): Promise<void> {
    return writeAwaited(this.out, this.scrubber.line(msg) + '\n');
  }
}

function drop(record: ApiRecord, fields: string[]): ApiRecord {
  if (!fields.length) return record;
  const copy = { ...record };
  for (const field of fields) delete copy[field];
  return copy;
}

/** A reason on one line: stderr's last line is what a scheduler shows. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}
